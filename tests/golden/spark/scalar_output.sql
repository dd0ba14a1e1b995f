WITH `__einsql_t0` AS (
  SELECT
    SUM(`x0`.`val` * `x1`.`val`) AS `val`
  FROM `x` AS `x0`
  JOIN `y` AS `x1`
    ON `x0`.`i0` = `x1`.`i0`
  HAVING
    COUNT(*) > 0
)
SELECT
  `__einsql_t0`.`val` AS `val`
FROM `__einsql_t0` AS `__einsql_t0`;
