WITH `__einsql_t0` AS (
  SELECT
    `x0`.`i1` AS `i0`,
    `x0`.`i0` AS `i1`,
    `x0`.`i0` AS `i2`,
    `x0`.`val` AS `val`
  FROM `a` AS `x0`
)
SELECT
  `__einsql_t0`.`i0` AS `i0`,
  `__einsql_t0`.`i1` AS `i1`,
  `__einsql_t0`.`i2` AS `i2`,
  `__einsql_t0`.`val` AS `val`
FROM `__einsql_t0` AS `__einsql_t0`;
