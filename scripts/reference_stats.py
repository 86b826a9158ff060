#!/usr/bin/env python3
"""Reference values for the statistics core (issue 6) that ../shared/reference/ lacks, computed with
independent tools (statsmodels, scipy, lifelines), so that `midnet stats` is tested against them.

Writes (deterministic; re-running reproduces the committed files):
  testdata/stats/cohort.csv             a synthetic cohort (fixed seed): two drugs, sex, age, site,
                                        follow-up in days with ties, event, death (competing), person-years
  testdata/stats/standard.csv           a standard population by age band
  testdata/reference-extra/stats_reference.csv
                                        one row per checked number: the `midnet stats` arguments that
                                        produce it (run in testdata/stats/), the JSON pointer of the number
                                        in the output, the value, the tolerance and the tool that computed it

    PY=$(scripts/python-env.sh) && "$PY" scripts/reference_stats.py
"""

import csv
import math
import sys
from pathlib import Path

import lifelines
import numpy as np
import pandas as pd
import scipy
import statsmodels
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import multivariate_logrank_test
from scipy import optimize, stats
from statsmodels.duration.hazard_regression import PHReg
from statsmodels.duration.survfunc import CumIncidenceRight, SurvfuncRight
from statsmodels.stats.rates import confint_poisson, confint_poisson_2indep

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "testdata" / "stats"
OUT = ROOT / "testdata" / "reference-extra" / "stats_reference.csv"

SM = f"statsmodels {statsmodels.__version__}"
SP = f"scipy {scipy.__version__}"
LL = f"lifelines {lifelines.__version__}"

rows = []


def add(case, args, pointer, value, tolerance, source, note=""):
    rows.append(
        {
            "case_id": case,
            "args": args,
            "pointer": pointer,
            "value": repr(float(value)),
            "tolerance": tolerance,
            "source": source,
            "note": note,
        }
    )


def make_cohort(n=400, seed=20261124):
    """Two drug groups with a true hazard ratio of 1.8, sex and age effects, four sites with their
    own baseline hazards; follow-up in whole days (so event times tie), administrative censoring at
    730 days and death as a competing event."""
    rng = np.random.default_rng(seed)
    group = rng.choice(["comparator", "drug"], size=n, p=[0.55, 0.45])
    sex = rng.choice(["F", "M"], size=n)
    age = rng.integers(20, 95, size=n)
    site = rng.choice(["S1", "S2", "S3", "S4"], size=n)
    site_effect = {"S1": 0.0, "S2": 0.4, "S3": -0.3, "S4": 0.2}
    lin = (
        np.log(1.8) * (group == "drug")
        + 0.3 * (sex == "M")
        + 0.02 * (age - 55)
        + 0.0004 * (age - 55) ** 2
        + np.array([site_effect[s] for s in site])
    )
    t_event = rng.exponential(900.0 / np.exp(lin))
    t_death = rng.exponential(2500.0, size=n)
    t_cens = rng.uniform(30, 900, size=n)
    end = np.minimum.reduce([t_event, t_death, t_cens, np.full(n, 730.0)])
    time = np.ceil(end).astype(int)
    event = ((t_event <= t_death) & (t_event <= t_cens) & (t_event <= 730)).astype(int)
    death = ((t_death < t_event) & (t_death <= t_cens) & (t_death <= 730)).astype(int)
    bands = np.select([age < 40, age < 65, age < 85], ["20-39", "40-64", "65-84"], "85+")
    df = pd.DataFrame(
        {
            "group": group,
            "sex": sex,
            "age": age,
            "age_band": bands,
            "site": site,
            "time": time,
            "event": event,
            "death": death,
            "person_years": time / 365.25,
        }
    )
    return df


def km_rows(df, label, args, groups):
    """Kaplan-Meier S, Greenwood SE (statsmodels), log-log CI (lifelines), n at risk (numpy)."""
    times = [30, 90, 180, 365, 600]
    for g_index, (g, sub) in enumerate(groups):
        sf = SurvfuncRight(sub["time"].values, sub["event"].values)
        kmf = KaplanMeierFitter(alpha=0.05).fit(sub["time"], sub["event"])
        ci = kmf.confidence_interval_survival_function_
        for t_index, t in enumerate(times):
            i = np.searchsorted(sf.surv_times, t, side="right") - 1
            s = sf.surv_prob[i] if i >= 0 else 1.0
            se = sf.surv_prob_se[i] if i >= 0 else 0.0
            lo, hi = ci.loc[:t].iloc[-1]
            base = f"/groups/{g_index}/at/{t_index}"
            case = f"{label}_{g}_t{t}"
            add(case, args, f"{base}/survival", s, "rel 1e-9", SM)
            add(case, args, f"{base}/se", se, "rel 1e-9", SM)
            add(case, args, f"{base}/lo", lo, "rel 1e-9", LL, "log-log interval")
            add(case, args, f"{base}/hi", hi, "rel 1e-9", LL, "log-log interval")
            add(case, args, f"{base}/n_at_risk", int((sub["time"] >= t).sum()), "abs 0", "numpy")


def leukemia_rows():
    leuk = pd.read_csv(DATA / "leukemia.csv")
    args = "km --input leukemia.csv --time time --event event --group group --at 6,10,16,23 --json"
    arm = leuk[leuk.group == "6-MP"]
    kmf = KaplanMeierFitter(alpha=0.05).fit(arm["time"], arm["event"])
    ci = kmf.confidence_interval_survival_function_
    for t_index, t in enumerate([6, 10, 16, 23]):
        lo, hi = ci.loc[:t].iloc[-1]
        add(f"LEUK_KM_loglog_t{t}", args, f"/groups/0/at/{t_index}/lo", lo, "rel 1e-9", LL)
        add(f"LEUK_KM_loglog_t{t}", args, f"/groups/0/at/{t_index}/hi", hi, "rel 1e-9", LL)


def cuminc_rows(df):
    args = "km --input cohort.csv --time time --event event --death death --group group --at 30,90,180,365,600 --json"
    for g_index, (g, sub) in enumerate(sorted(df.groupby("group"), key=lambda x: x[0])):
        status = sub["event"].values + 2 * sub["death"].values
        ci = CumIncidenceRight(sub["time"].values, status)
        for t_index, t in enumerate([30, 90, 180, 365, 600]):
            i = np.searchsorted(ci.times, t, side="right") - 1
            value = ci.cinc[0][i] if i >= 0 else 0.0
            se = ci.cinc_se[0][i] if i >= 0 else 0.0
            base = f"/groups/{g_index}/at/{t_index}"
            add(f"AJ_{g}_t{t}", args, f"{base}/cuminc", value, "rel 1e-9", SM, "Aalen-Johansen, death competing")
            add(f"AJ_{g}_t{t}", args, f"{base}/cuminc_se", se, "rel 1e-9", SM, "delta-method SE")


def logrank_rows(df):
    args = "km --input cohort.csv --time time --event event --group site --at 365 --json"
    res = multivariate_logrank_test(df["time"], df["site"], df["event"])
    add("LOGRANK_4sites", args, "/logrank/chi2", res.test_statistic, "rel 1e-9", LL)
    add("LOGRANK_4sites", args, "/logrank/p", res.p_value, "rel 1e-9", LL)
    add("LOGRANK_4sites", args, "/logrank/df", 3, "abs 0", LL)


def design(df):
    return pd.DataFrame(
        {
            "group=drug": (df["group"] == "drug").astype(float),
            "sex=M": (df["sex"] == "M").astype(float),
            "age": df["age"].astype(float),
            "age^2": df["age"].astype(float) ** 2,
        }
    )


def cox_rows(df):
    x = design(df)
    names = list(x.columns)
    base = "cox --input cohort.csv --time time --event event --covariates group,sex,age,age^2 --json"
    variants = [
        ("COX_multi_efron", base, None, "efron"),
        ("COX_multi_breslow", base + " --ties breslow", None, "breslow"),
        ("COX_strata_efron", base + " --strata site", "site", "efron"),
        ("COX_strata_breslow", base + " --strata site --ties breslow", "site", "breslow"),
    ]
    for case, args, strata, ties in variants:
        model = PHReg(
            df["time"].values.astype(float),
            x.values,
            status=df["event"].values,
            strata=None if strata is None else df[strata].values,
            ties=ties,
        )
        res = model.fit(method="newton", maxiter=200)
        params, bse = np.asarray(res.params), np.asarray(res.bse)
        # polish: Newton steps from statsmodels' own score and Hessian until the step vanishes
        for _ in range(20):
            step = np.linalg.solve(-model.hessian(params), model.score(params))
            params = params + step
            if np.max(np.abs(step)) < 1e-14:
                break
        bse = np.sqrt(np.diag(np.linalg.inv(-model.hessian(params))))
        for j, name in enumerate(names):
            pointer = f"/covariates/{j}"
            add(case, args, f"{pointer}/coef", params[j], "rel 1e-8", SM, f"{name}")
            add(case, args, f"{pointer}/se", bse[j], "rel 1e-8", SM, f"{name}")
            add(case, args, f"{pointer}/hr", math.exp(params[j]), "rel 1e-8", SM, f"{name}")
        add(case, args, "/loglik", model.loglike(params), "rel 1e-10", SM)
        add(case, args, "/events", int(df["event"].sum()), "abs 0", "pandas")
        add(case, args, "/n", len(df), "abs 0", "pandas")
        if ties == "efron":
            # lifelines (Efron only) as a second, independent implementation
            frame = pd.concat([x, df[["time", "event"]]], axis=1)
            if strata:
                frame[strata] = df[strata].values
            cph = CoxPHFitter().fit(frame, "time", "event", strata=[strata] if strata else None)
            for j, name in enumerate(names):
                lifelines_coef = cph.params_[name]
                assert abs(lifelines_coef - params[j]) < 1e-5 * max(1, abs(params[j])), (case, name)
                # lifelines stops at its own tolerance: its coefficients are good to about 1e-5
                add(case + "_lifelines", args, f"/covariates/{j}/coef", lifelines_coef, "abs 1e-5", LL, name)
                add(case + "_lifelines", args, f"/covariates/{j}/hr_lo", math.exp(cph.confidence_intervals_.loc[name].iloc[0]),
                    "rel 1e-4", LL, "exp of lifelines' lower bound of the coefficient")
        for j, name in enumerate(names):
            z = stats.norm.ppf(0.975)
            add(case, args, f"/covariates/{j}/hr_lo", math.exp(params[j] - z * bse[j]), "rel 1e-8", SM, name)
            add(case, args, f"/covariates/{j}/hr_hi", math.exp(params[j] + z * bse[j]), "rel 1e-8", SM, name)
            add(case, args, f"/covariates/{j}/p", 2 * stats.norm.sf(abs(params[j] / bse[j])), "rel 1e-7", SM, name)


def fay_feuer(d, pt, std, alpha=0.05):
    """Directly standardised rate and the Fay & Feuer (1997) gamma interval, written from the paper."""
    w = std / (std.sum() * pt)
    y = (w * d).sum()
    v = (w**2 * d).sum()
    wm = w.max()
    lo = stats.gamma.ppf(alpha / 2, y**2 / v, scale=v / y) if y > 0 else 0.0
    hi = stats.gamma.ppf(1 - alpha / 2, (y + wm) ** 2 / (v + wm**2), scale=(v + wm**2) / (y + wm))
    return y, lo, hi


def incidence_rows(df, standard):
    per = 1000.0
    args = (
        "incidence --input cohort.csv --events event --time person_years --group-by group --per 1000 "
        "--standardize age_band --standard standard.csv --compare group=drug:comparator --json"
    )
    groups = sorted(df.groupby("group"), key=lambda x: x[0])
    for g_index, (g, sub) in enumerate(groups):
        d, pt = int(sub["event"].sum()), float(sub["person_years"].sum())
        lo, hi = confint_poisson(d, pt, method="exact-c")
        base = f"/rows/{g_index}"
        add(f"IR_{g}", args, f"{base}/events", d, "abs 0", "pandas")
        add(f"IR_{g}", args, f"{base}/rate", d / pt * per, "rel 1e-12", "numpy")
        add(f"IR_{g}", args, f"{base}/rate_lo", lo * per, "rel 1e-9", SM, "exact-c (Garwood)")
        add(f"IR_{g}", args, f"{base}/rate_hi", hi * per, "rel 1e-9", SM, "exact-c (Garwood)")
        bands = sub.groupby("age_band").agg(d=("event", "sum"), pt=("person_years", "sum"))
        bands = bands.reindex(standard["age_band"])
        y, slo, shi = fay_feuer(bands["d"].values.astype(float), bands["pt"].values, standard["population"].values.astype(float))
        add(f"DSR_{g}", args, f"{base}/standardized/rate", y * per, "rel 1e-12", "numpy")
        add(f"DSR_{g}", args, f"{base}/standardized/lo", slo * per, "rel 1e-9", SP, "Fay & Feuer 1997 gamma interval with scipy.stats.gamma")
        add(f"DSR_{g}", args, f"{base}/standardized/hi", shi * per, "rel 1e-9", SP, "Fay & Feuer 1997 gamma interval with scipy.stats.gamma")
    (_, a), (_, b) = groups[1], groups[0]  # drug vs comparator
    da, ta, db, tb = int(a["event"].sum()), a["person_years"].sum(), int(b["event"].sum()), b["person_years"].sum()
    ci = stats.binomtest(da, da + db).proportion_ci(confidence_level=0.95, method="exact")
    odds = lambda p: p / (1 - p) * tb / ta
    add("RR_drug_vs_comparator", args, "/comparisons/0/rate_ratio", (da / ta) / (db / tb), "rel 1e-12", "numpy")
    add("RR_drug_vs_comparator", args, "/comparisons/0/ratio_lo", odds(ci.low), "rel 1e-9", SP, "binomtest exact (Clopper-Pearson)")
    add("RR_drug_vs_comparator", args, "/comparisons/0/ratio_hi", odds(ci.high), "rel 1e-9", SP, "binomtest exact (Clopper-Pearson)")
    lo, hi = confint_poisson_2indep(da, ta, db, tb, method="wald", compare="diff")
    add("RD_drug_vs_comparator", args, "/comparisons/0/rate_difference", (da / ta - db / tb) * per, "rel 1e-12", "numpy")
    add("RD_drug_vs_comparator", args, "/comparisons/0/difference_lo", lo * per, "rel 1e-9", SM, "confint_poisson_2indep wald diff")
    add("RD_drug_vs_comparator", args, "/comparisons/0/difference_hi", hi * per, "rel 1e-9", SM, "confint_poisson_2indep wald diff")


def midp_rows():
    """Mid-p exact Poisson intervals solved to full precision (statsmodels' `midp-c` inverts with
    fmin(xtol=1e-8) and is only good to about 1e-6)."""
    for x in [0, 1, 5, 20]:
        args = f"incidence --input counts_{x}.csv --events events --time time --per 1 --ci mid-p --json"
        lower = lambda lam: stats.poisson.sf(x, lam) + 0.5 * stats.poisson.pmf(x, lam) - 0.025
        upper = lambda lam: stats.poisson.cdf(x - 1, lam) + 0.5 * stats.poisson.pmf(x, lam) - 0.025
        lo = 0.0 if x == 0 else optimize.brentq(lower, 1e-12, 100, xtol=1e-300, rtol=1e-15)
        hi = optimize.brentq(upper, 1e-12, 100, xtol=1e-300, rtol=1e-15)
        add(f"MIDP{x}", args, "/total/rate_lo", lo, "rel 1e-9", SP, "mid-p exact, brentq on scipy.stats.poisson")
        add(f"MIDP{x}", args, "/total/rate_hi", hi, "rel 1e-9", SP, "mid-p exact, brentq on scipy.stats.poisson")
        with open(DATA / f"counts_{x}.csv", "w") as f:
            f.write(f"events,time\n{x},1\n")


def main():
    df = make_cohort()
    df.to_csv(DATA / "cohort.csv", index=False, float_format="%.17g")
    df = pd.read_csv(DATA / "cohort.csv")  # exactly what midnet reads
    standard = pd.DataFrame({"age_band": ["20-39", "40-64", "65-84", "85+"], "population": [35000, 42000, 19000, 4000]})
    standard.to_csv(DATA / "standard.csv", index=False)

    leukemia_rows()
    groups = sorted(df.groupby("group"), key=lambda x: x[0])
    km_rows(df, "KM", "km --input cohort.csv --time time --event event --group group --at 30,90,180,365,600 --json", groups)
    cuminc_rows(df)
    logrank_rows(df)
    cox_rows(df)
    incidence_rows(df, standard)
    midp_rows()

    OUT.parent.mkdir(parents=True, exist_ok=True)
    with open(OUT, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)
    print(f"{len(rows)} reference values -> {OUT.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
