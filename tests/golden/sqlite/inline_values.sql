WITH "__einsql_a0" AS (
  SELECT
    CAST("v"."column1" AS INTEGER) AS "i0",
    CAST("v"."column2" AS INTEGER) AS "i1",
    CAST("v"."column3" AS REAL) AS "val"
  FROM (VALUES
    (0, 1, 1.5e0),
    (1, 0, 9e999)) AS "v"
), "__einsql_a1" AS (
  SELECT
    CAST("v"."column1" AS INTEGER) AS "i0",
    CAST("v"."column2" AS REAL) AS "val"
  FROM (VALUES
    (0, 2.0e0)) AS "v"
), "__einsql_t0" AS (
  SELECT
    "u"."i0" AS "i0",
    CASE WHEN COUNT("u"."val") = COUNT(*) THEN SUM("u"."val") END AS "val"
  FROM (
    SELECT
      "x0"."i0" AS "i0",
      CASE
        WHEN COUNT("x0"."val" * "x1"."val") = COUNT(*)
        THEN SUM("x0"."val" * "x1"."val")
      END AS "val"
    FROM "__einsql_a0" AS "x0"
    JOIN "__einsql_a1" AS "x1"
      ON "x0"."i1" = "x1"."i0"
    GROUP BY
      "x0"."i0"
    UNION ALL
    SELECT DISTINCT
      "x0"."i0" AS "i0",
      CAST(NULL AS REAL) AS "val"
    FROM "__einsql_a0" AS "x0"
    WHERE
      NOT COALESCE((
        "x0"."val" - "x0"."val"
      ) = 0, FALSE)
      AND NOT EXISTS(
        SELECT
          1
        FROM "__einsql_a1" AS "x1"
        WHERE
          "x1"."i0" = "x0"."i1"
      )
    UNION ALL
    SELECT DISTINCT
      "r0"."v" AS "i0",
      CAST(NULL AS REAL) AS "val"
    FROM "__einsql_a1" AS "x0"
    CROSS JOIN (
      WITH RECURSIVE "r0"("v") AS (
        SELECT
          0
        UNION ALL
        SELECT
          "v" + 1
        FROM "r0"
        WHERE
          "v" < 1
      )
      SELECT
        "v"
      FROM "r0"
    ) AS "r0"
    WHERE
      NOT COALESCE((
        "x0"."val" - "x0"."val"
      ) = 0, FALSE)
      AND NOT EXISTS(
        SELECT
          1
        FROM "__einsql_a0" AS "x1"
        WHERE
          "x1"."i0" = "r0"."v" AND "x1"."i1" = "x0"."i0"
      )
  ) AS "u"
  GROUP BY
    "u"."i0"
)
SELECT
  "__einsql_t0"."i0" AS "i0",
  "__einsql_t0"."val" AS "val"
FROM "__einsql_t0" AS "__einsql_t0";
