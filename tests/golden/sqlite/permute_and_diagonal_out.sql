WITH "t0" AS MATERIALIZED (
  SELECT
    "x0"."i1" AS "i0",
    "x0"."i0" AS "i1",
    "x0"."i0" AS "i2",
    "x0"."val" AS "val"
  FROM "a" AS "x0"
)
SELECT
  "t0"."i0" AS "i0",
  "t0"."i1" AS "i1",
  "t0"."i2" AS "i2",
  "t0"."val" AS "val"
FROM "t0" AS "t0";
