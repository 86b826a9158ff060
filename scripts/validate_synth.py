"""Independent check that `midnet synth` plants what truth.json says (docs/synth.md).

For each planted effect (and a sample of no-effect pairs), straight from the hospital CSV files with
DuckDB and lifelines (not midnet's code): new users of the drug or the comparator (first order of
either, none in the 365 days before, 180 days observed before), follow-up to the end of continuous
use (gaps up to 30 days, plus 30 days), observation end, death or data end; baseline-normal subgroup
(the last result of the outcome's analyte in the 90 days before index within the site's range);
outcome = first result past the threshold after index; Cox with group, age, age^2 and sex,
stratified by site. Prints the estimate, its 95% CI and whether it covers the planted hazard ratio.

    PY=$(scripts/python-env.sh); midnet synth --site-count 10 --patients 20000 --seed 1 --dir /tmp/v
    $PY scripts/validate_synth.py /tmp/v [--nulls 20]
"""
import argparse
import glob
import json
import os

import duckdb
import numpy as np
import pandas as pd
from lifelines import CoxPHFitter

# outcome id -> (JLAC10 analyte code, SQL condition on value v, ref_low lo, ref_high hi; canonical units)
OUTCOMES = {
    "alt_gt_3uln": ("3B045", "v > 3 * hi"),
    "egfr_lt_60": ("3C015", "egfr < 60"),
    "platelets_lt_75k": ("2A050", "v < 75"),
    "potassium_gt_5_5": ("3H015", "v > 5.5"),
    "hb_lt_10": ("2A030", "v < 10"),
    "sodium_lt_130": ("3H010", "v < 130"),
    "wbc_lt_3k": ("2A010", "v < 3"),
}
FACTOR = "CASE unit WHEN '10^4/uL' THEN 10.0 WHEN '/uL' THEN 0.001 ELSE 1.0 END"


def load(con, net):
    for table in ["patient", "observation_period", "drug_order", "lab_result"]:
        files = sorted(glob.glob(os.path.join(net, "site*", "import", f"{table}.csv")))
        parts = [f"SELECT '{os.path.basename(os.path.dirname(os.path.dirname(f)))}' AS site, * "
                 f"FROM read_csv('{f}', all_varchar=true)" for f in files]
        con.execute(f"CREATE TABLE raw_{table} AS " + " UNION ALL ".join(parts))
    con.execute("""CREATE TABLE patient AS SELECT site, patient_key,
        CASE WHEN sex IN ('F','2') THEN 1 ELSE 0 END AS female, CAST(birth_date AS DATE) AS birth,
        CAST(death_date AS DATE) AS death FROM raw_patient""")
    con.execute("""CREATE TABLE obs AS SELECT site, patient_key, CAST(start_date AS DATE) AS s,
        CAST(end_date AS DATE) AS e FROM raw_observation_period WHERE source = 'EHR'""")
    con.execute("""CREATE TABLE orders AS SELECT site, patient_key, left(yj_code, 7) AS drug,
        TRY_CAST(start_date AS DATE) AS d, TRY_CAST(days_supply AS INTEGER) AS supply FROM raw_drug_order
        WHERE TRY_CAST(start_date AS DATE) IS NOT NULL""")
    con.execute(f"""CREATE TABLE lab AS SELECT site, patient_key, left(jlac10, 5) AS analyte,
        TRY_CAST(result_time AS TIMESTAMP)::DATE AS d, TRY_CAST(value AS DOUBLE) * {FACTOR} AS v,
        TRY_CAST(ref_low AS DOUBLE) * {FACTOR} AS lo, TRY_CAST(ref_high AS DOUBLE) * {FACTOR} AS hi
        FROM raw_lab_result WHERE TRY_CAST(value AS DOUBLE) IS NOT NULL AND TRY_CAST(result_time AS TIMESTAMP) IS NOT NULL""")


def cohort(con, drug, comparator):
    con.execute(f"""CREATE OR REPLACE TEMP TABLE cohort AS
    WITH o AS (SELECT * FROM orders WHERE drug IN ('{drug}', '{comparator}')),
    first AS (SELECT site, patient_key, min(d) AS idx FROM o GROUP BY ALL),
    idx AS (SELECT f.site, f.patient_key, f.idx, any_value(o.drug) AS drug FROM first f
            JOIN o USING (site, patient_key) WHERE o.d = f.idx GROUP BY ALL),
    eligible AS (SELECT i.* FROM idx i JOIN obs ON obs.site = i.site AND obs.patient_key = i.patient_key
                 AND obs.s <= i.idx - 180 AND obs.e >= i.idx),
    courses AS (SELECT o.site, o.patient_key, o.d, o.d + o.supply - 1 AS covered FROM o
                JOIN eligible e USING (site, patient_key) WHERE o.drug = e.drug AND o.d >= e.idx),
    flagged AS (SELECT *, CASE WHEN d > max(covered) OVER (PARTITION BY site, patient_key ORDER BY d
                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) + 30 THEN 1 ELSE 0 END AS brk FROM courses),
    numbered AS (SELECT *, sum(brk) OVER (PARTITION BY site, patient_key ORDER BY d) AS ep FROM flagged),
    exposure AS (SELECT site, patient_key, max(covered) + 30 AS exp_end FROM numbered WHERE ep = 0 GROUP BY ALL)
    SELECT e.site, e.patient_key, e.idx, CASE WHEN e.drug = '{drug}' THEN 1 ELSE 0 END AS treated,
           p.female, (e.idx - p.birth) / 365.25 AS age,
           least(x.exp_end, obs.e, coalesce(p.death, DATE '2999-01-01')) AS fu_end
    FROM eligible e JOIN exposure x USING (site, patient_key) JOIN patient p USING (site, patient_key)
    JOIN obs ON obs.site = e.site AND obs.patient_key = e.patient_key AND obs.s <= e.idx AND obs.e >= e.idx""")


def analyse(con, outcome):
    analyte, cond = OUTCOMES[outcome]
    egfr = "194 * pow(v, -1.094) * pow(c.age, -0.287) * CASE WHEN c.female = 1 THEN 0.739 ELSE 1 END"
    df = con.execute(f"""
    WITH l AS (SELECT l.*, {egfr} AS egfr, c.idx, c.fu_end FROM lab l JOIN cohort c USING (site, patient_key)
               WHERE l.analyte = '{analyte}'),
    base AS (SELECT site, patient_key, arg_max(l.v, l.d) AS bv, arg_max(l.lo, l.d) AS blo, arg_max(l.hi, l.d) AS bhi,
                    arg_max(l.egfr, l.d) AS begfr
             FROM l WHERE d BETWEEN idx - 90 AND idx GROUP BY ALL),
    ev AS (SELECT site, patient_key, min(d) AS ed FROM l WHERE d > idx AND d <= fu_end AND ({cond}) GROUP BY ALL)
    SELECT c.*, b.bv, b.blo, b.bhi, b.begfr, ev.ed FROM cohort c JOIN base b USING (site, patient_key)
    LEFT JOIN ev USING (site, patient_key)""").df()
    if analyte == "3C015":
        df = df[df.begfr >= 60]
    else:
        df = df[(df.bv >= df.blo) & (df.bv <= df.bhi)]
    df = df[df.fu_end > df.idx].copy()
    df["event"] = df.ed.notna().astype(int)
    end = df.ed.where(df.ed.notna(), df.fu_end)
    df["time"] = (pd.to_datetime(end) - pd.to_datetime(df.idx)).dt.days.clip(lower=0.5)
    df["age2"] = ((df.age - 60) / 10) ** 2
    df["age10"] = (df.age - 60) / 10
    data = df[["time", "event", "treated", "female", "age10", "age2", "site"]]
    cph = CoxPHFitter()
    cph.fit(data, duration_col="time", event_col="event", strata=["site"])
    s = cph.summary.loc["treated"]
    return (np.exp(s["coef"]), np.exp(s["coef lower 95%"]), np.exp(s["coef upper 95%"]),
            int(data.treated.sum()), int((1 - data.treated).sum()), int(data.event.sum()))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("network")
    ap.add_argument("--nulls", type=int, default=10)
    args = ap.parse_args()
    truth = json.load(open(os.path.join(args.network, "truth.json")))
    con = duckdb.connect()
    load(con, args.network)
    planted = [e for e in truth["effects"] if e["hazard_ratio"] != 1.0]
    nulls = [e for e in truth["effects"] if e["hazard_ratio"] == 1.0 and e["outcome"] in OUTCOMES]
    rng = np.random.default_rng(0)
    sample = [nulls[i] for i in rng.choice(len(nulls), size=min(args.nulls, len(nulls)), replace=False)]
    covered = flagged = 0
    for e in planted + sample:
        if e["outcome"] not in OUTCOMES:
            continue
        cohort(con, e["drug_yj"], e["comparator_yj"])
        try:
            hr, lo, hi, n1, n0, events = analyse(con, e["outcome"])
        except Exception as err:  # too few events for a fit
            print(f"{e['drug']:>15} vs {e['comparator']:<13} {e['outcome']:<18} no fit ({err.__class__.__name__})")
            continue
        ok = lo <= e["hazard_ratio"] <= hi
        covered += ok
        flagged += lo > 1
        print(f"{e['drug']:>15} vs {e['comparator']:<13} {e['outcome']:<18} planted {e['hazard_ratio']:.1f}  "
              f"HR {hr:.2f} ({lo:.2f}-{hi:.2f})  n={n1}+{n0} events={events}  {'covers' if ok else 'MISSES'}"
              f"{'  flagged' if lo > 1 else ''}")
    print(f"{covered} CIs cover the planted value; {flagged} flagged (lower bound > 1)")


if __name__ == "__main__":
    main()
