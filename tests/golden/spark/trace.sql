WITH `__einsql_t0` AS (
  SELECT
    SUM(`x0`.`val`) AS `val`
  FROM `a` AS `x0`
  WHERE
    `x0`.`i0` = `x0`.`i1`
  HAVING
    COUNT(*) > 0
)
SELECT
  `__einsql_t0`.`val` AS `val`
FROM `__einsql_t0` AS `__einsql_t0`;
