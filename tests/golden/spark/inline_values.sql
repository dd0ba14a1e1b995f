WITH `__einsql_a0` AS (
  SELECT
    CAST(`v`.`i0` AS INT) AS `i0`,
    CAST(`v`.`i1` AS INT) AS `i1`,
    CAST(`v`.`val` AS DOUBLE) AS `val`
  FROM VALUES
    (0, 1, 1.5e0),
    (1, 0, CAST('Infinity' AS DOUBLE)) AS `v`(`i0`, `i1`, `val`)
), `__einsql_a1` AS (
  SELECT
    CAST(`v`.`i0` AS INT) AS `i0`,
    CAST(`v`.`val` AS DOUBLE) AS `val`
  FROM VALUES
    (0, 2.0e0) AS `v`(`i0`, `val`)
), `__einsql_t0` AS (
  SELECT
    `u`.`i0` AS `i0`,
    SUM(`u`.`val`) AS `val`
  FROM (
    SELECT
      `x0`.`i0` AS `i0`,
      SUM(`x0`.`val` * `x1`.`val`) AS `val`
    FROM `__einsql_a0` AS `x0`
    JOIN `__einsql_a1` AS `x1`
      ON `x0`.`i1` = `x1`.`i0`
    GROUP BY
      `x0`.`i0`
    UNION ALL
    SELECT DISTINCT
      `x0`.`i0` AS `i0`,
      CAST('NaN' AS DOUBLE) AS `val`
    FROM `__einsql_a0` AS `x0`
    WHERE
      NOT (
        `x0`.`val` - `x0`.`val`
      ) = 0
      AND NOT EXISTS(
        SELECT
          1
        FROM `__einsql_a1` AS `x1`
        WHERE
          `x1`.`i0` = `x0`.`i1`
      )
    UNION ALL
    SELECT DISTINCT
      `r0`.`v` AS `i0`,
      CAST('NaN' AS DOUBLE) AS `val`
    FROM `__einsql_a1` AS `x0`
    CROSS JOIN RANGE(0, 2) AS `r0`(`v`)
    WHERE
      NOT (
        `x0`.`val` - `x0`.`val`
      ) = 0
      AND NOT EXISTS(
        SELECT
          1
        FROM `__einsql_a0` AS `x1`
        WHERE
          `x1`.`i0` = `r0`.`v` AND `x1`.`i1` = `x0`.`i0`
      )
  ) AS `u`
  GROUP BY
    `u`.`i0`
)
SELECT
  `__einsql_t0`.`i0` AS `i0`,
  `__einsql_t0`.`val` AS `val`
FROM `__einsql_t0` AS `__einsql_t0`;
