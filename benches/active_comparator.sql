-- The cohort of testdata/scripts/active_comparator.midnet (cut-off 2025-09-30), written by hand in
-- DuckDB SQL the way an analyst fluent in it would: one pass over each table, conditional
-- aggregates for the baselines and outcomes, self-joins for the two-result outcomes. It is the
-- reference of the script-compiler benchmark (scripts/bench-script.sh), which checks that it
-- returns the same rows as the compiled script.
WITH
entry AS (
    SELECT patient_key, start_date AS index_date, yj_code,
           CASE WHEN left(yj_code, 7) = '3969099' THEN 'drug' ELSE 'comparator' END AS grp
    FROM drug_order
    WHERE left(yj_code, 7) IN ('3969099', '3969010')
      AND start_date BETWEEN DATE '2021-06-01' AND DATE '2025-09-30'
    QUALIFY row_number() OVER (
        PARTITION BY patient_key
        ORDER BY start_date, yj_code, hot_code, order_date, days_supply, daily_dose, dose_unit, route, setting, source
    ) = 1
),
base AS (
    SELECT e.*, p.sex, p.birth_date, p.death_date,
           year(e.index_date) - year(p.birth_date)
             - CASE WHEN month(e.index_date) * 100 + day(e.index_date) < month(p.birth_date) * 100 + day(p.birth_date) THEN 1 ELSE 0 END AS age
    FROM entry e JOIN patient p USING (patient_key)
),
study_orders AS (
    SELECT patient_key, start_date, yj_code, days_supply
    FROM drug_order
    WHERE left(yj_code, 7) IN ('3969099', '3969010')
      AND patient_key IN (SELECT patient_key FROM base)
),
before_index AS (
    SELECT b.patient_key,
           bool_or(o.start_date BETWEEN b.index_date - 365 AND b.index_date - 1) AS earlier_use,
           bool_or(o.start_date = b.index_date AND left(o.yj_code, 7) <> left(b.yj_code, 7)) AS both_on_index
    FROM base b JOIN study_orders o USING (patient_key)
    WHERE o.start_date <= b.index_date
    GROUP BY b.patient_key
),
observed AS (
    SELECT b.patient_key, min(o.start_date) AS obs_start, max(o.end_date) AS obs_end
    FROM base b JOIN observation_period o USING (patient_key)
    WHERE o.start_date <= b.index_date AND o.end_date >= b.index_date
    GROUP BY b.patient_key
),
type1 AS (
    SELECT DISTINCT b.patient_key
    FROM base b JOIN diagnosis d USING (patient_key)
    WHERE left(d.icd10, 3) = 'E10' AND d.diagnosis_date <= b.index_date
),
cohort AS (
    SELECT b.*, o.obs_end
    FROM base b
    LEFT JOIN before_index x USING (patient_key)
    LEFT JOIN observed o USING (patient_key)
    WHERE NOT coalesce(x.earlier_use, false)
      AND NOT coalesce(x.both_on_index, false)
      AND o.obs_start <= b.index_date - 365
      AND b.age >= 18
      AND b.patient_key NOT IN (SELECT patient_key FROM type1)
),
-- Exposure: the index drug's orders from the index date; coverage without stockpiling; the
-- episode ends at the first gap of more than 30 days.
supply AS (
    SELECT c.patient_key, o.start_date AS day, max(o.start_date + o.days_supply) AS reach
    FROM cohort c JOIN study_orders o USING (patient_key)
    WHERE o.start_date >= c.index_date
      AND left(o.yj_code, 7) = CASE c.grp WHEN 'drug' THEN '3969099' ELSE '3969010' END
    GROUP BY c.patient_key, o.start_date
),
covered AS (
    SELECT patient_key, day,
           max(reach) OVER (PARTITION BY patient_key ORDER BY day ROWS UNBOUNDED PRECEDING) AS uncovered
    FROM supply
),
episodes AS (
    SELECT patient_key, uncovered,
           sum(CASE WHEN date_diff('day', previous, day) > 30 THEN 1 ELSE 0 END)
               OVER (PARTITION BY patient_key ORDER BY day ROWS UNBOUNDED PRECEDING) AS episode
    FROM (SELECT *, lag(uncovered) OVER (PARTITION BY patient_key ORDER BY day) AS previous FROM covered)
),
exposure AS (
    SELECT patient_key, max(uncovered) - 1 + 30 AS exposure_end
    FROM episodes WHERE episode = 0 GROUP BY patient_key
),
-- Lab results of the cohort, with the analyte and, for creatinine, eGFR (Japanese equation).
labs AS (
    SELECT c.patient_key, c.index_date, CAST(l.result_time AS DATE) AS d, l.result_time, l.value, l.ref_low, l.ref_high,
           CASE left(l.jlac10, 5) || substr(l.jlac10, 10, 3)
               WHEN '3B045023' THEN 'alt' WHEN '3B035023' THEN 'ast' WHEN '3J010023' THEN 'tbil'
               WHEN '3C015023' THEN 'creatinine' WHEN '2A050019' THEN 'platelets'
               WHEN '2A160019' THEN 'neutrophils' WHEN '2A030019' THEN 'hb' END AS analyte,
           194 * pow(l.value, -1.094)
               * pow(year(CAST(l.result_time AS DATE)) - year(c.birth_date)
                     - CASE WHEN month(l.result_time) * 100 + day(l.result_time) < month(c.birth_date) * 100 + day(c.birth_date) THEN 1 ELSE 0 END, -0.287)
               * CASE WHEN c.sex = 'F' THEN 0.739 ELSE 1 END AS egfr
    FROM cohort c JOIN lab_result l USING (patient_key)
    WHERE left(l.jlac10, 5) IN ('3B045', '3B035', '3J010', '3C015', '2A050', '2A160', '2A030')
),
baseline AS (
    SELECT patient_key,
        arg_max_null(value, result_time) FILTER (WHERE analyte = 'alt' AND d BETWEEN index_date - 90 AND index_date) AS alt,
        arg_max_null(ref_high, result_time) FILTER (WHERE analyte = 'alt' AND d BETWEEN index_date - 90 AND index_date) AS alt_uln,
        arg_max_null(value, result_time) FILTER (WHERE analyte = 'ast' AND d BETWEEN index_date - 90 AND index_date) AS ast,
        arg_max_null(ref_high, result_time) FILTER (WHERE analyte = 'ast' AND d BETWEEN index_date - 90 AND index_date) AS ast_uln,
        arg_max_null(value, result_time) FILTER (WHERE analyte = 'tbil' AND d BETWEEN index_date - 90 AND index_date) AS tbil,
        arg_max_null(ref_high, result_time) FILTER (WHERE analyte = 'tbil' AND d BETWEEN index_date - 90 AND index_date) AS tbil_uln,
        arg_max_null(value, result_time) FILTER (WHERE analyte = 'creatinine' AND d BETWEEN index_date - 90 AND index_date) AS cr,
        arg_max_null(ref_high, result_time) FILTER (WHERE analyte = 'creatinine' AND d BETWEEN index_date - 90 AND index_date) AS cr_uln,
        arg_max_null(egfr, result_time) FILTER (WHERE analyte = 'creatinine' AND d BETWEEN index_date - 90 AND index_date) AS cr_egfr,
        min(value) FILTER (WHERE analyte = 'platelets' AND d BETWEEN index_date - 90 AND index_date) AS plt,
        -- the lowest platelet count, ties going to the latest result
        arg_min_null(ref_low, struct_pack(v := value, t := -epoch_us(result_time)))
            FILTER (WHERE analyte = 'platelets' AND value IS NOT NULL AND d BETWEEN index_date - 90 AND index_date) AS plt_lln,
        arg_max_null(value, result_time) FILTER (WHERE analyte = 'neutrophils' AND d BETWEEN index_date - 90 AND index_date) AS neut,
        arg_max_null(ref_low, result_time) FILTER (WHERE analyte = 'neutrophils' AND d BETWEEN index_date - 90 AND index_date) AS neut_lln,
        arg_max_null(value, result_time) FILTER (WHERE analyte = 'hb' AND d BETWEEN index_date - 90 AND index_date) AS hb,
        arg_max_null(ref_low, result_time) FILTER (WHERE analyte = 'hb' AND d BETWEEN index_date - 90 AND index_date) AS hb_lln
    FROM labs
    GROUP BY patient_key
),
-- First date of each outcome from the day after the index date.
firsts AS (
    SELECT l.patient_key,
        min(d) FILTER (WHERE analyte = 'alt' AND value > 3 * ref_high) AS alt_gt_3uln,
        min(d) FILTER (WHERE analyte = 'alt' AND value > 5 * ref_high) AS alt_gt_5uln,
        min(d) FILTER (WHERE analyte IN ('alt', 'ast') AND value > 3 * ref_high) AS alt_or_ast_gt_3uln,
        min(d) FILTER (WHERE analyte = 'tbil' AND value > 1.5 * ref_high) AS tbil_gt_1_5uln,
        min(d) FILTER (WHERE analyte = 'creatinine' AND egfr < 60) AS egfr_lt_60,
        min(d) FILTER (WHERE analyte = 'creatinine' AND egfr < 30) AS egfr_lt_30,
        min(d) FILTER (WHERE analyte = 'creatinine' AND (value >= 1.5 * b.cr OR value >= b.cr + 0.3)) AS kdigo_stage1,
        min(d) FILTER (WHERE analyte = 'creatinine' AND (value >= 3 * b.cr OR value >= 4.0)) AS kdigo_stage3,
        min(d) FILTER (WHERE analyte = 'platelets' AND value < 75) AS platelets_lt_75k,
        min(d) FILTER (WHERE analyte = 'neutrophils' AND value < 1.5) AS neutrophils_lt_1_5k,
        min(d) FILTER (WHERE analyte = 'hb' AND value < 10) AS hb_lt_10
    FROM labs l LEFT JOIN baseline b USING (patient_key)
    WHERE d > index_date
    GROUP BY l.patient_key
),
hys_law AS (
    SELECT t.patient_key, min(greatest(t.d, b.d)) AS hys_law
    FROM labs t JOIN labs b ON b.patient_key = t.patient_key AND b.d BETWEEN t.d - 30 AND t.d + 30
    WHERE t.analyte IN ('alt', 'ast') AND t.value >= 3 * t.ref_high
      AND b.analyte = 'tbil' AND b.value >= 2 * b.ref_high
      AND greatest(t.d, b.d) > t.index_date
    GROUP BY t.patient_key
),
kdigo_windowed AS (
    SELECT l.patient_key, min(l.d) AS kdigo_stage1_windowed
    FROM labs e JOIN labs l ON l.patient_key = e.patient_key AND l.d BETWEEN e.d - 2 AND e.d + 2
    WHERE e.analyte = 'creatinine' AND l.analyte = 'creatinine'
      AND l.d > e.d AND l.value >= e.value + 0.3 AND l.d > l.index_date
    GROUP BY l.patient_key
),
followed AS (
    SELECT c.*, x.exposure_end, b.* EXCLUDE (patient_key), f.* EXCLUDE (patient_key), h.hys_law, k.kdigo_stage1_windowed,
           least(x.exposure_end, c.obs_end, c.death_date, DATE '2025-09-30', c.index_date + 730) AS fu_end
    FROM cohort c
    LEFT JOIN exposure x USING (patient_key)
    LEFT JOIN baseline b USING (patient_key)
    LEFT JOIN firsts f USING (patient_key)
    LEFT JOIN hys_law h USING (patient_key)
    LEFT JOIN kdigo_windowed k USING (patient_key)
)
SELECT
    patient_key,
    grp AS "group",
    index_date,
    age,
    sex,
    strftime(birth_date, '%Y-%m') AS birth_year_month,
    alt AS baseline_alt,
    alt_uln AS baseline_alt_uln,
    cr AS baseline_creatinine,
    cr_egfr AS baseline_egfr,
    plt AS baseline_platelets,
    exposure_end,
    CAST(coalesce(alt_gt_3uln <= fu_end, false) AS INTEGER) AS alt_gt_3uln_event,
    CASE WHEN alt_gt_3uln <= fu_end THEN alt_gt_3uln - index_date ELSE fu_end - index_date END AS alt_gt_3uln_days,
    CAST(coalesce(alt <= alt_uln, false) AS INTEGER) AS alt_gt_3uln_baseline_normal,
    CAST(coalesce(alt_gt_5uln <= fu_end, false) AS INTEGER) AS alt_gt_5uln_event,
    CASE WHEN alt_gt_5uln <= fu_end THEN alt_gt_5uln - index_date ELSE fu_end - index_date END AS alt_gt_5uln_days,
    CAST(coalesce(alt <= alt_uln, false) AS INTEGER) AS alt_gt_5uln_baseline_normal,
    CAST(coalesce(alt_or_ast_gt_3uln <= fu_end, false) AS INTEGER) AS alt_or_ast_gt_3uln_event,
    CASE WHEN alt_or_ast_gt_3uln <= fu_end THEN alt_or_ast_gt_3uln - index_date ELSE fu_end - index_date END AS alt_or_ast_gt_3uln_days,
    CAST(coalesce(alt <= alt_uln AND ast <= ast_uln, false) AS INTEGER) AS alt_or_ast_gt_3uln_baseline_normal,
    CAST(coalesce(tbil_gt_1_5uln <= fu_end, false) AS INTEGER) AS tbil_gt_1_5uln_event,
    CASE WHEN tbil_gt_1_5uln <= fu_end THEN tbil_gt_1_5uln - index_date ELSE fu_end - index_date END AS tbil_gt_1_5uln_days,
    CAST(coalesce(tbil <= tbil_uln, false) AS INTEGER) AS tbil_gt_1_5uln_baseline_normal,
    CAST(coalesce(hys_law <= fu_end, false) AS INTEGER) AS hys_law_event,
    CASE WHEN hys_law <= fu_end THEN hys_law - index_date ELSE fu_end - index_date END AS hys_law_days,
    CAST(coalesce(alt <= alt_uln AND tbil <= tbil_uln, false) AS INTEGER) AS hys_law_baseline_normal,
    CAST(coalesce(egfr_lt_60 <= fu_end, false) AS INTEGER) AS egfr_lt_60_event,
    CASE WHEN egfr_lt_60 <= fu_end THEN egfr_lt_60 - index_date ELSE fu_end - index_date END AS egfr_lt_60_days,
    CAST(coalesce(cr_egfr >= 60, false) AS INTEGER) AS egfr_lt_60_baseline_normal,
    CAST(coalesce(egfr_lt_30 <= fu_end, false) AS INTEGER) AS egfr_lt_30_event,
    CASE WHEN egfr_lt_30 <= fu_end THEN egfr_lt_30 - index_date ELSE fu_end - index_date END AS egfr_lt_30_days,
    CAST(coalesce(cr_egfr >= 60, false) AS INTEGER) AS egfr_lt_30_baseline_normal,
    CAST(coalesce(kdigo_stage1 <= fu_end, false) AS INTEGER) AS kdigo_stage1_event,
    CASE WHEN kdigo_stage1 <= fu_end THEN kdigo_stage1 - index_date ELSE fu_end - index_date END AS kdigo_stage1_days,
    CAST(coalesce(cr <= cr_uln, false) AS INTEGER) AS kdigo_stage1_baseline_normal,
    CAST(coalesce(kdigo_stage3 <= fu_end, false) AS INTEGER) AS kdigo_stage3_event,
    CASE WHEN kdigo_stage3 <= fu_end THEN kdigo_stage3 - index_date ELSE fu_end - index_date END AS kdigo_stage3_days,
    CAST(coalesce(cr <= cr_uln, false) AS INTEGER) AS kdigo_stage3_baseline_normal,
    CAST(coalesce(kdigo_stage1_windowed <= fu_end, false) AS INTEGER) AS kdigo_stage1_windowed_event,
    CASE WHEN kdigo_stage1_windowed <= fu_end THEN kdigo_stage1_windowed - index_date ELSE fu_end - index_date END AS kdigo_stage1_windowed_days,
    CAST(coalesce(cr <= cr_uln, false) AS INTEGER) AS kdigo_stage1_windowed_baseline_normal,
    CAST(coalesce(platelets_lt_75k <= fu_end, false) AS INTEGER) AS platelets_lt_75k_event,
    CASE WHEN platelets_lt_75k <= fu_end THEN platelets_lt_75k - index_date ELSE fu_end - index_date END AS platelets_lt_75k_days,
    CAST(coalesce(plt >= plt_lln, false) AS INTEGER) AS platelets_lt_75k_baseline_normal,
    CAST(coalesce(neutrophils_lt_1_5k <= fu_end, false) AS INTEGER) AS neutrophils_lt_1_5k_event,
    CASE WHEN neutrophils_lt_1_5k <= fu_end THEN neutrophils_lt_1_5k - index_date ELSE fu_end - index_date END AS neutrophils_lt_1_5k_days,
    CAST(coalesce(neut >= neut_lln, false) AS INTEGER) AS neutrophils_lt_1_5k_baseline_normal,
    CAST(coalesce(hb_lt_10 <= fu_end, false) AS INTEGER) AS hb_lt_10_event,
    CASE WHEN hb_lt_10 <= fu_end THEN hb_lt_10 - index_date ELSE fu_end - index_date END AS hb_lt_10_days,
    CAST(coalesce(hb >= hb_lln, false) AS INTEGER) AS hb_lt_10_baseline_normal
FROM followed
ORDER BY patient_key
