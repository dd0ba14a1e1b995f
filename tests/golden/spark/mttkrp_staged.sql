CACHE TABLE `__einsql_t1` AS
WITH `__einsql_t0` AS (
  SELECT
    `x0`.`i0` AS `i0`,
    `x0`.`i1` AS `i1`,
    `x1`.`i0` AS `i2`,
    `x0`.`val` * `x1`.`val` AS `val`
  FROM `b` AS `x0`
  JOIN `c` AS `x1`
    ON `x0`.`i1` = `x1`.`i1`
)
SELECT
  `x0`.`i0` AS `i0`,
  `x1`.`i1` AS `i1`,
  SUM(`x0`.`val` * `x1`.`val`) AS `val`
FROM `x` AS `x0`
JOIN `__einsql_t0` AS `x1`
  ON `x0`.`i1` = `x1`.`i0` AND `x0`.`i2` = `x1`.`i2`
GROUP BY
  `x0`.`i0`,
  `x1`.`i1`;
SELECT
  `__einsql_t1`.`i0` AS `i0`,
  `__einsql_t1`.`i1` AS `i1`,
  `__einsql_t1`.`val` AS `val`
FROM `__einsql_t1` AS `__einsql_t1`;
DROP TABLE IF EXISTS `__einsql_t1`;
