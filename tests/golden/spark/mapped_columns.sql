WITH `__einsql_t0` AS (
  SELECT
    `x0`.`src` AS `i0`,
    SUM(`x0`.`weight` * `x1`.`val`) AS `val`
  FROM `edges` AS `x0`
  JOIN `rank` AS `x1`
    ON `x0`.`dst` = `x1`.`i0`
  GROUP BY
    `x0`.`src`
)
SELECT
  `__einsql_t0`.`i0` AS `i0`,
  `__einsql_t0`.`val` AS `val`
FROM `__einsql_t0` AS `__einsql_t0`;
