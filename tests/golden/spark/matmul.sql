WITH `__einsql_t0` AS (
  SELECT
    `x0`.`i0` AS `i0`,
    `x1`.`i1` AS `i1`,
    SUM(`x0`.`val` * `x1`.`val`) AS `val`
  FROM `a` AS `x0`
  JOIN `b` AS `x1`
    ON `x0`.`i1` = `x1`.`i0`
  GROUP BY
    `x0`.`i0`,
    `x1`.`i1`
)
SELECT
  `__einsql_t0`.`i0` AS `i0`,
  `__einsql_t0`.`i1` AS `i1`,
  `__einsql_t0`.`val` AS `val`
FROM `__einsql_t0` AS `__einsql_t0`;
