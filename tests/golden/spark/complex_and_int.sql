WITH `__einsql_t0` AS (
  SELECT
    `x0`.`i0` AS `i0`,
    SUM(CAST(`x1`.`val` AS DOUBLE) * `x0`.`val_re`) AS `val_re`,
    SUM(CAST(`x1`.`val` AS DOUBLE) * `x0`.`val_im`) AS `val_im`
  FROM `z` AS `x0`
  JOIN `n` AS `x1`
    ON `x0`.`i1` = `x1`.`i0`
  GROUP BY
    `x0`.`i0`
)
SELECT
  `__einsql_t0`.`i0` AS `i0`,
  `__einsql_t0`.`val_re` AS `val_re`,
  `__einsql_t0`.`val_im` AS `val_im`
FROM `__einsql_t0` AS `__einsql_t0`;
