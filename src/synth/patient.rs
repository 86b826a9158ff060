//! One synthetic patient: demographics, observation, indications and study-drug courses, latent lab
//! abnormalities (whose hazards carry the planted effects), lab tests on a schedule that does not
//! depend on any drug, visits, admissions, diagnoses and procedures.
//!
//! A patient is drawn first (sex, age, whether chronically ill, observation period: [`Person`]);
//! then a [`Chart`] writes their rows into the site's tables. Every draw comes from the patient's
//! own random stream, in a fixed order, so the same seed gives the same files. The details that
//! no study effect depends on (a diagnosis's end and outcome, an inpatient stay's route and
//! destination, the doses given by injection, a lab result's status) come from a second stream of
//! the patient's, so that adding one changes none of the other draws.

use rand::{Rng, RngExt};
use rand_distr::{Distribution, Exp1, Gamma, StandardNormal};

use super::catalog::{self, PAIRS, Process};
use super::labs::{self, ANALYTES, Episode};
use super::site::{Drug, SiteContext, Tables};
use crate::error::Result;

/// Days since 1970-01-01 of 2020-01-01, the reference for ages at generation.
const REF_2020: i32 = catalog::days(2020, 1, 1);
/// Effects act while a patient is exposed and for this many days after the last supply ends.
pub const EFFECT_LAG_DAYS: i32 = 30;

/// Log-hazard slopes shared by every latent process: per decade of age around 60, its square, male.
const AGE_SLOPE: f64 = 0.25;
const AGE_SQUARED: f64 = 0.04;
const MALE: f64 = 0.15;

/// Who the patient is and when the hospital sees them: what every part of their record depends on.
struct Person<'a> {
    ctx: &'a SiteContext,
    key: String,
    female: bool,
    birth: i32,
    /// The observation period, first and last day.
    start: i32,
    end: i32,
}

impl Person<'_> {
    fn age_at(&self, day: i32) -> f64 {
        (day - self.birth) as f64 / 365.25
    }

    /// The index of the patient's sex in the site's reference ranges.
    fn sex(&self) -> usize {
        if self.female { 0 } else { 1 }
    }
}

/// A patient's record being written: the site's tables, the patient's random stream, and the days
/// of outpatient visits so far (written last, without the days spent in hospital).
struct Chart<'a, R> {
    person: Person<'a>,
    t: &'a mut Tables,
    rng: &'a mut R,
    /// The stream of the details no study effect depends on.
    details: &'a mut R,
    visits: Vec<i32>,
}

/// A course of a study drug.
struct Course {
    pair: usize,
    new_drug: bool,
    start: i32,
    /// Last day covered by a supply.
    end: i32,
}

/// How a course of a drug is prescribed.
struct Prescribing<'d> {
    drug: &'d Drug,
    /// The supplies (days) a prescription may be for.
    supplies: &'d [u16],
    /// Mean days until the patient stops.
    persistence: f64,
    first: i32,
    /// No prescription on or after this day (the patient leaves).
    until: i32,
    /// A newly listed drug is prescribed only 14 days at a time before this day (Japan's rule for
    /// a new drug's first year).
    limited_until: Option<i32>,
}

/// One drug order.
struct Order<'d> {
    drug: &'d Drug,
    day: i32,
    supply: i32,
    setting: &'static str,
}

/// One diagnosis, recorded by every source of the site.
struct Diagnosis<'c> {
    code: &'c str,
    day: i32,
    main: bool,
    suspected: bool,
    /// An indication of a study drug: chronic, it does not end.
    chronic: bool,
}

/// How a diagnosis ended: its last day and its outcome, as the EHR (HL7 table 0241) and the
/// claims (転帰区分) code it; none while it continues.
struct Ending {
    day: i32,
    ehr: &'static str,
    claims: &'static str,
}

/// One lab result.
struct Measurement {
    /// The index in [`ANALYTES`].
    analyte: usize,
    day: i32,
    /// Minutes after midnight.
    minutes: u32,
    value: f64,
}

/// A window in which a drug multiplies the hazard of a process.
struct Modifier {
    process: Process,
    from: i32,
    to: i32,
    hazard_ratio: f64,
}

pub fn generate<R: Rng>(ctx: &SiteContext, idx: u64, rng: &mut R, details: &mut R, t: &mut Tables) -> Result<()> {
    let female = rng.random_bool(0.52);
    let age_2020 = draw_age(rng);
    let birth = REF_2020 - (age_2020 * 365.25) as i32 - rng.random_range(0..365);
    let chronic = rng.random_bool(0.12 + 0.43 * logistic((age_2020 - 55.0) / 8.0));
    let (start, end) = observation(ctx, chronic, rng);
    let key = format!("K{:08}", idx ^ ctx.key_mask);
    let mut person = Person { ctx, key, female, birth, start, end };
    let mut death = None;
    if chronic {
        let yearly = 0.004 * (0.085 * (person.age_at(start) - 60.0)).exp();
        let at = start + (sample_exp(rng) / yearly * 365.25) as i32;
        if at < end {
            death = Some(at);
            person.end = at;
        }
    }
    let mut chart = Chart { person, t, rng, details, visits: Vec::new() };
    chart.write_patient(death)?;
    chart.write_observation()?;
    chart.care(chronic)
}

fn draw_age<R: Rng>(rng: &mut R) -> f64 {
    let u: f64 = rng.random();
    if u < 0.08 {
        rng.random_range(0.0..18.0)
    } else if u < 0.28 {
        rng.random_range(18.0..50.0)
    } else {
        let z: f64 = StandardNormal.sample(rng);
        (70.0 + 11.0 * z).clamp(40.0, 100.0)
    }
}

fn observation<R: Rng>(ctx: &SiteContext, chronic: bool, rng: &mut R) -> (i32, i32) {
    let span = (ctx.data_end - ctx.data_start) as f64;
    if chronic {
        let u: f64 = rng.random();
        let start = ctx.data_start + (span * u.powf(1.6)) as i32;
        let length = 180 + (sample_exp(rng) * 5.0 * 365.25) as i32;
        (start, (start + length).min(ctx.data_end))
    } else {
        let start = ctx.data_start + rng.random_range(0..(span as i32 - 1));
        (start, (start + rng.random_range(0..120)).min(ctx.data_end))
    }
}

impl<R: Rng> Chart<'_, R> {
    /// Everything after demographics and observation: the care of a chronic patient (indications,
    /// study drugs, other drugs and diagnoses, admissions) or a brief one, the latent
    /// abnormalities, the lab tests that may catch them, and the visits.
    fn care(&mut self, chronic: bool) -> Result<()> {
        let p = &self.person;
        let (ctx, female, start) = (p.ctx, p.female, p.start);
        let mut courses: Vec<Course> = Vec::new();
        if chronic && p.age_at(start) >= 18.0 {
            for (i, pair) in PAIRS.iter().enumerate() {
                if let Some(course) = self.study_pair(i, pair)? {
                    courses.push(course);
                }
            }
            self.background_drugs()?;
            self.other_diagnoses()?;
        } else {
            self.brief_care()?;
        }

        let modifiers: Vec<Modifier> = courses
            .iter()
            .filter_map(|c| {
                let pair = &PAIRS[c.pair];
                let (process, hr) = pair.effect?;
                c.new_drug.then_some(Modifier { process, from: c.start, to: c.end + EFFECT_LAG_DAYS, hazard_ratio: hr })
            })
            .collect();
        // Well levels are those of the age at the first study-drug course (or at the first visit).
        let ref_day = courses.iter().map(|c| c.start).min().unwrap_or(start);
        let levels = WellLevels::draw(ctx, female, self.person.age_at(ref_day), self.rng);
        let episodes = episodes(&self.person, &modifiers, &levels, self.rng);
        let admissions = if chronic { self.admissions()? } else { Vec::new() };
        let tests = self.test_days(chronic, &courses, &admissions);
        for &(day, admitted) in &tests {
            self.write_labs(day, admitted, &levels, &episodes)?;
            self.visits.push(day);
        }
        // The hospital observes the patient from a first to a last day of care, both visits: the
        // observation period is what an import of its records can derive (docs/ss-mix2.md).
        self.visits.extend([self.person.start, self.person.end]);
        self.write_visits(&admissions)
    }

    /// The indication of one study pair, perhaps, and perhaps a course of its new drug or its
    /// comparator.
    fn study_pair(&mut self, index: usize, pair: &catalog::Pair) -> Result<Option<Course>> {
        let p = &self.person;
        let (ctx, female, start, end) = (p.ctx, p.female, p.start, p.end);
        let age = p.age_at(start);
        let logit = (pair.prevalence / (1.0 - pair.prevalence)).ln() + pair.age_slope * (age - 60.0) / 10.0;
        if !self.rng.random_bool(logistic(logit)) {
            return Ok(None);
        }
        let diagnosed = start + self.rng.random_range(0..=(end - start).max(0));
        let code = pair.indication[self.rng.random_range(0..pair.indication.len())];
        self.write_diagnosis(&Diagnosis { code, day: diagnosed, main: true, suspected: false, chronic: true })?;
        if !self.rng.random_bool(0.7) {
            return Ok(None);
        }
        // A quarter of treated patients were already on the drug when the hospital first saw them.
        let first = if self.rng.random_bool(0.25) { start } else { diagnosed + self.rng.random_range(0..60) };
        if first >= end {
            return Ok(None);
        }
        let new_drug = first >= pair.launch && {
            let age = self.person.age_at(first);
            let logit = ctx.profile.adoption - 0.35 * (age - 60.0) / 10.0 + if female { 0.1 } else { 0.0 };
            self.rng.random_bool(logistic(logit))
        };
        let ingredient = if new_drug { pair.new_drug } else { pair.comparator };
        let last = self.write_course(&Prescribing {
            drug: ctx.drug(ingredient),
            supplies: pair.days_supply,
            persistence: pair.persistence_days,
            first,
            until: end,
            limited_until: new_drug.then_some(pair.launch + 365),
        })?;
        Ok(Some(Course { pair: index, new_drug, start: first, end: last }))
    }

    /// Write the orders of one course of a drug, from its first day until the patient stops (or
    /// leaves); returns the last day covered by a supply.
    fn write_course(&mut self, course: &Prescribing) -> Result<i32> {
        let stop = course.first + ((sample_exp(self.rng) * course.persistence) as i32).max(1);
        let mut day = course.first;
        let mut covered = course.first;
        while day <= stop && day < course.until {
            let limited = course.limited_until.is_some_and(|until| day < until);
            let supplies = course.supplies;
            let supply = if limited { 14 } else { supplies[self.rng.random_range(0..supplies.len())] } as i32;
            self.write_order(&Order { drug: course.drug, day, supply, setting: "outpatient" })?;
            self.visits.push(day);
            covered = covered.max(day + supply - 1);
            let u: f64 = self.rng.random();
            let gap = if u < 0.70 {
                self.rng.random_range(-5..=3)
            } else if u < 0.95 {
                self.rng.random_range(4..=20)
            } else {
                self.rng.random_range(21..=75)
            };
            day += supply + gap;
        }
        Ok(covered)
    }

    fn background_drugs(&mut self) -> Result<()> {
        let (ctx, start, end) = (self.person.ctx, self.person.start, self.person.end);
        let years = (end - start) as f64 / 365.25;
        for (ingredient, supplies, yearly) in catalog::BACKGROUND {
            let courses = poisson(self.rng, yearly * years);
            for _ in 0..courses {
                let first = start + self.rng.random_range(0..=(end - start).max(0));
                let persistence = if supplies[0] >= 28 { 180.0 } else { 10.0 };
                let drug = ctx.drug(ingredient);
                self.write_course(&Prescribing {
                    drug,
                    supplies,
                    persistence,
                    first,
                    until: end,
                    limited_until: None,
                })?;
            }
        }
        Ok(())
    }

    fn other_diagnoses(&mut self) -> Result<()> {
        let (start, end) = (self.person.start, self.person.end);
        let years = (end - start) as f64 / 365.25;
        for (code, yearly) in catalog::OTHER_DIAGNOSES {
            for _ in 0..poisson(self.rng, yearly * years) {
                let day = start + self.rng.random_range(0..=(end - start).max(0));
                let suspected = self.rng.random_bool(0.12);
                self.write_diagnosis(&Diagnosis { code, day, main: false, suspected, chronic: false })?;
            }
        }
        Ok(())
    }

    /// A patient seen briefly: a few visits, an acute diagnosis, perhaps an acute prescription.
    fn brief_care(&mut self) -> Result<()> {
        let (ctx, start, end) = (self.person.ctx, self.person.start, self.person.end);
        let (code, _) = catalog::OTHER_DIAGNOSES[self.rng.random_range(0..catalog::OTHER_DIAGNOSES.len())];
        let suspected = self.rng.random_bool(0.1);
        self.write_diagnosis(&Diagnosis { code, day: start, main: true, suspected, chronic: false })?;
        self.visits.push(start);
        if end > start {
            let day = self.rng.random_range(start..=end);
            self.visits.push(day);
        }
        if self.rng.random_bool(0.5) {
            let (ingredient, supplies, _) = catalog::BACKGROUND[self.rng.random_range(0..4)];
            self.write_course(&Prescribing {
                drug: ctx.drug(ingredient),
                supplies,
                persistence: 7.0,
                first: start,
                until: end.max(start + 1),
                limited_until: None,
            })?;
        }
        Ok(())
    }

    /// Hospital stays, independent of any drug; each starts with a full lab panel.
    fn admissions(&mut self) -> Result<Vec<(i32, i32)>> {
        let (ctx, start, end) = (self.person.ctx, self.person.start, self.person.end);
        let years = (end - start) as f64 / 365.25;
        let mut stays = Vec::new();
        for _ in 0..poisson(self.rng, 0.07 * years) {
            let from = start + self.rng.random_range(0..=(end - start).max(0));
            let to = (from + self.rng.random_range(2..=20)).min(end.max(from));
            // A patient is in one bed at a time. Two stays admitted (or discharged) on one day
            // could not even be exported: SS-MIX2 keeps one ADT file per patient, day and kind.
            if stays.iter().any(|&(first, last)| from <= last && first <= to) {
                continue;
            }
            let source = if ctx.profile.has_dpc { "DPC" } else { "EHR" };
            let e = &mut self.t.encounter;
            e.str(&self.person.key);
            e.str("inpatient");
            e.date(from);
            e.date(to);
            e.str("internal_medicine");
            self.write_stay_details();
            self.t.encounter.str(source);
            self.t.encounter.end_row()?;
            for ingredient in catalog::INPATIENT {
                if self.rng.random_bool(0.4) {
                    let drug = ctx.drug(ingredient);
                    // From the day after admission, within the stay (a stay cut short by the end
                    // of observation may last one day).
                    let day = (from + 1).min(to);
                    self.write_order(&Order { drug, day, supply: (to - from).max(1), setting: "inpatient" })?;
                    self.write_administrations(drug, day, to, source)?;
                }
            }
            if ctx.profile.has_claims {
                self.write_claimed_stay(from, to)?;
            }
            self.visits.retain(|d| *d < from || *d > to);
            stays.push((from, to));
        }
        Ok(stays)
    }

    /// The days on which the patient has lab tests: a renewal process whose pace depends on how
    /// closely the patient is followed and on the site, never on a drug; a check before each course
    /// begins (as clinicians do before most new treatments, whichever drug is chosen); the first day
    /// of each hospital stay.
    fn test_days(&mut self, chronic: bool, courses: &[Course], admissions: &[(i32, i32)]) -> Vec<(i32, bool)> {
        let (ctx, start, end) = (self.person.ctx, self.person.start, self.person.end);
        let rng = &mut *self.rng;
        let mut days: Vec<(i32, bool)> = Vec::new();
        if chronic {
            // Patients under treatment for a study indication are monitored more closely than other
            // chronic patients; which drug they take does not change it.
            let typical = if courses.is_empty() { 260.0 } else { 75.0 };
            let z: f64 = StandardNormal.sample(rng);
            let mean = (typical * (0.45 * z).exp()).clamp(30.0, 540.0) * ctx.profile.test_interval_factor;
            let gamma = Gamma::new(2.0, mean / 2.0).expect("valid gamma");
            let mut day = start + (gamma.sample(rng) * rng.random::<f64>()) as i32;
            while day <= end {
                days.push((day, false));
                day += gamma.sample(rng).max(1.0) as i32;
            }
            for c in courses {
                if rng.random_bool(0.75) {
                    // Mostly at the prescribing visit itself, otherwise in the fortnight before.
                    let before = if rng.random_bool(0.6) { 0 } else { rng.random_range(1..=14) };
                    days.push(((c.start - before).max(start), false));
                }
            }
        } else if let Some(&first) = self.visits.first()
            && rng.random_bool(0.5)
        {
            days.push((first, false));
        }
        days.extend(admissions.iter().map(|&(from, _)| (from, true)));
        days.sort_unstable();
        days.dedup_by_key(|d| d.0);
        days
    }

    fn write_labs(&mut self, day: i32, admitted: bool, levels: &WellLevels, episodes: &[Episode]) -> Result<()> {
        let ctx = self.person.ctx;
        let sex = self.person.sex();
        let minutes = self.rng.random_range(8 * 60..17 * 60);
        let chance = &ctx.profile.panel_chance;
        let mut panels = [false; 6];
        for (p, taken) in panels.iter_mut().enumerate() {
            *taken = if admitted && p < 5 { true } else { self.rng.random_bool(chance[p]) };
        }
        // Albumin is needed to read calcium; compute it first.
        let albumin = labs::well_value(
            &ANALYTES[labs::ALBUMIN],
            levels.level[labs::ALBUMIN],
            levels.band[labs::ALBUMIN],
            self.rng,
        );
        for (i, a) in ANALYTES.iter().enumerate() {
            if !panels[a.panel.index()] {
                continue;
            }
            let uln = ctx.profile.analytes[i].ref_high[sex];
            let active = episodes.iter().filter(|e| e.onset <= day && day < e.end);
            let abnormal = active.filter_map(|e| labs::episode_value(i, e, uln, levels.level[i], albumin)).next();
            let value = match (i, abnormal) {
                (_, Some(v)) => v,
                (labs::ALBUMIN, None) => albumin,
                (_, None) => labs::well_value(a, levels.level[i], levels.band[i], self.rng),
            };
            self.write_lab(&Measurement { analyte: i, day, minutes, value })?;
        }
        if ctx.profile.has_claims {
            self.write_procedure(catalog::PROCEDURE_LAB_PANEL, day, "CLAIMS")?;
        }
        Ok(())
    }

    fn write_lab(&mut self, m: &Measurement) -> Result<()> {
        let ctx = self.person.ctx;
        let a = &ANALYTES[m.analyte];
        let site = &ctx.profile.analytes[m.analyte];
        let decimals = reported_decimals(a.decimals, site.factor);
        let sex = self.person.sex();
        let (lo, hi) = (site.ref_low[sex], site.ref_high[sex]);
        let flag = if m.value > hi {
            "H"
        } else if m.value < lo {
            "L"
        } else {
            "N"
        };
        let l = &mut self.t.lab_result;
        l.str(&self.person.key);
        l.str(&site.jlac10);
        l.str(&site.jlac10[9..12]);
        l.date_time(m.day, m.minutes);
        let fault = ctx.fault(self.rng);
        match fault {
            Some(0) => l.str("ERR"),
            _ => l.fixed(m.value / site.factor, decimals),
        }
        match fault {
            Some(1) => l.str("mg/L"),
            _ => l.str(site.unit),
        }
        if self.rng.random_bool(ctx.profile.missing_range) {
            l.empty();
            l.empty();
        } else if fault == Some(2) {
            l.fixed(hi / site.factor, decimals);
            l.fixed(lo / site.factor, decimals);
        } else {
            l.fixed(lo / site.factor, decimals);
            l.fixed(hi / site.factor, decimals);
        }
        l.str(flag);
        // Nearly every result is final; a few were corrected after their first report.
        l.str(if self.details.random_bool(0.01) { "C" } else { "F" });
        l.str("EHR");
        l.end_row()
    }

    fn write_patient(&mut self, death: Option<i32>) -> Result<()> {
        let person = &self.person;
        let p = &mut self.t.patient;
        p.str(&person.key);
        p.str(match (person.ctx.profile.numeric_sex, person.female) {
            (true, true) => "2",
            (true, false) => "1",
            (false, true) => "F",
            (false, false) => "M",
        });
        p.date(person.birth);
        match death {
            Some(d) => p.date(d),
            None => p.empty(),
        }
        p.end_row()
    }

    fn write_observation(&mut self) -> Result<()> {
        let claims_end = self.claims_end();
        let Person { ctx, key, start, end, .. } = &self.person;
        let o = &mut self.t.observation_period;
        o.str(key);
        o.str("EHR");
        o.date(*start);
        o.date(*end);
        o.end_row()?;
        if ctx.profile.has_claims {
            // The claims observe the months they bill, whole: from the month of the first day of
            // care (a visit or an admission, both billed) to the month of the last (docs/claims.md).
            o.str(key);
            o.str("CLAIMS");
            o.date(month_start(*start));
            o.date(claims_end);
            o.end_row()?;
        }
        Ok(())
    }

    /// The last day the claims observe: the end of the month of the last day of care, the last
    /// month billed.
    fn claims_end(&self) -> i32 {
        month_end(self.person.end)
    }

    /// A stay as the claims bill it: its 入院基本料 on each day, admission and discharge days
    /// included, on the inpatient receipts that name its admission day, from which the import makes
    /// the stay (with none of the details only the EHR and DPC carry).
    fn write_claimed_stay(&mut self, from: i32, to: i32) -> Result<()> {
        for day in from..=to {
            self.write_procedure(catalog::PROCEDURE_ADMISSION, day, "CLAIMS")?;
        }
        let e = &mut self.t.encounter;
        e.str(&self.person.key);
        e.str("inpatient");
        e.date(from);
        e.date(to);
        for _ in 0..4 {
            e.empty();
        }
        e.str("CLAIMS");
        e.end_row()
    }

    fn write_diagnosis(&mut self, diagnosis: &Diagnosis) -> Result<()> {
        let ctx = self.person.ctx;
        let sources: &[&str] = if ctx.profile.has_claims { &["EHR", "CLAIMS"] } else { &["EHR"] };
        let ending = self.ending(diagnosis);
        let claims_end = self.claims_end();
        for source in sources {
            let d = &mut self.t.diagnosis;
            d.str(&self.person.key);
            if ctx.fault(self.rng).is_some() {
                d.str(&format!("{}X9", diagnosis.code)); // not an ICD-10 code: quarantined at load
            } else {
                d.str(diagnosis.code);
            }
            d.empty();
            d.date(diagnosis.day);
            let claims = *source == "CLAIMS";
            match &ending {
                Some(e) => {
                    // A claim records an outcome at the latest on the last month it bills.
                    d.date(if claims { e.day.min(claims_end) } else { e.day });
                    d.str(if claims { e.claims } else { e.ehr });
                }
                None => {
                    d.empty();
                    d.str(if claims { "1" } else { "N" });
                }
            }
            d.str(if diagnosis.suspected { "1" } else { "0" });
            d.str(if diagnosis.main { "1" } else { "0" });
            // The EHR records the diagnosis at the outpatient visit (JHSD0004 `O`); a claim's
            // diagnosis is a billing one.
            d.str(if claims { "billing" } else { "O" });
            d.str(source);
            d.end_row()?;
        }
        Ok(())
    }

    /// How a diagnosis ends: a suspected one is ruled out (discontinued) within a month; another
    /// that is not an indication is cured, as often as not, within three months; an indication
    /// continues.
    fn ending(&mut self, diagnosis: &Diagnosis) -> Option<Ending> {
        if diagnosis.chronic {
            return None;
        }
        if diagnosis.suspected {
            let day = diagnosis.day + self.details.random_range(3..=30);
            return Some(Ending { day, ehr: "U", claims: "4" });
        }
        self.details.random_bool(0.5).then(|| Ending {
            day: diagnosis.day + self.details.random_range(7..=90),
            ehr: "F",
            claims: "2",
        })
    }

    /// An inpatient stay's admission route, discharge destination and outcome, after its department.
    fn write_stay_details(&mut self) {
        let e = &mut self.t.encounter;
        e.str(if self.details.random_bool(0.9) { "home" } else { "other_hospital" });
        let u: f64 = self.details.random();
        let (destination, outcome) = if u < 0.85 {
            ("home", "improving")
        } else if u < 0.95 {
            ("other_hospital", "unchanged")
        } else {
            ("care_facility", "unchanged")
        };
        e.str(destination);
        e.str(outcome);
    }

    /// The doses of an injection given once a day during a stay, from `first` to `last`: the
    /// order's daily dose, some by infusion at a rate over an hour.
    fn write_administrations(&mut self, drug: &Drug, first: i32, last: i32, source: &str) -> Result<()> {
        let infused = self.details.random_bool(0.5);
        for day in first..=last {
            let minutes = self.details.random_range(9 * 60..11 * 60);
            let a = &mut self.t.drug_administration;
            a.str(&self.person.key);
            a.str(&drug.yj_code);
            a.empty();
            a.date_time(day, minutes);
            a.date_time(day, minutes + if infused { 60 } else { 5 });
            a.fixed(drug.daily_dose, 1);
            a.str(drug.dose_unit);
            if infused {
                a.int(100);
                a.str("mL/h");
            } else {
                a.empty();
                a.empty();
            }
            a.str(drug.route);
            a.str("inpatient");
            a.str(source);
            a.end_row()?;
        }
        Ok(())
    }

    fn write_order(&mut self, order: &Order) -> Result<()> {
        let o = &mut self.t.drug_order;
        o.str(&self.person.key);
        o.str(&order.drug.yj_code);
        o.empty();
        o.date(order.day);
        if self.person.ctx.fault(self.rng).is_some() {
            o.str("2023-02-30"); // a date that does not exist: quarantined at load
        } else {
            o.date(order.day);
        }
        // An injection order in hospital has no days supplied: its doses are administrations.
        if order.drug.route == "injection" && order.setting == "inpatient" {
            o.empty();
        } else {
            o.int(order.supply as i64);
        }
        o.fixed(order.drug.daily_dose, 1);
        o.str(order.drug.dose_unit);
        o.str(order.drug.route);
        o.str(order.setting);
        o.str("EHR");
        o.end_row()
    }

    fn write_procedure(&mut self, code: &str, day: i32, source: &str) -> Result<()> {
        let p = &mut self.t.procedure;
        p.str(&self.person.key);
        p.str(code);
        p.date(day);
        p.str(source);
        p.end_row()
    }

    /// The outpatient visits: every day with an order, a test or a visit, but not within a stay.
    fn write_visits(&mut self, stays: &[(i32, i32)]) -> Result<()> {
        self.visits.sort_unstable();
        self.visits.dedup();
        for day in std::mem::take(&mut self.visits) {
            if stays.iter().any(|&(from, to)| from <= day && day <= to) {
                continue;
            }
            let e = &mut self.t.encounter;
            e.str(&self.person.key);
            e.str("outpatient");
            e.date(day);
            e.date(day);
            e.str("internal_medicine");
            e.empty();
            e.empty();
            e.empty();
            e.str("EHR");
            e.end_row()?;
            if self.person.ctx.profile.has_claims {
                self.write_procedure(catalog::PROCEDURE_OUTPATIENT_VISIT, day, "CLAIMS")?;
            }
        }
        Ok(())
    }
}

/// Latent abnormalities: for each process, the onsets in the observation period under a hazard
/// that depends on the patient's current age and sex, multiplied by the planted hazard ratio while
/// the patient is exposed to a drug that has one.
fn episodes<R: Rng>(person: &Person, modifiers: &[Modifier], levels: &WellLevels, rng: &mut R) -> Vec<Episode> {
    let Person { ctx, female, start, end, .. } = *person;
    let sex = if female { 0.0 } else { MALE };
    let mut out = Vec::new();
    for process in Process::ALL {
        let base = process.base_hazard() * ctx.profile.hazard_factor / 365.25;
        let daily = |day: i32| {
            let decades = (person.age_at(day) - 60.0) / 10.0;
            base * (AGE_SLOPE * decades + AGE_SQUARED * decades * decades + sex).exp()
        };
        // Episodes recur: once one resolves the patient is at risk again, so the hazard after an
        // index date does not depend on what happened before it.
        let mut from = start;
        while from < end {
            let Some(onset) = onset(process, &daily, from, end, modifiers, rng) else { break };
            let episode = Episode {
                process,
                onset,
                // Abnormalities persist for weeks to months, so that most are caught by a later test.
                end: onset + rng.random_range(60..=180),
                severity: match process {
                    // A kidney episode takes eGFR to a value below 60: creatinine rises from the
                    // patient's own level by the factor that reaches it.
                    Process::Kidney => {
                        let target = labs::draw_severity(process, rng);
                        let creatinine = levels.level[labs::CREATININE];
                        (creatinine / labs::creatinine_for(target, person.age_at(onset).max(18.0), female)).min(0.95)
                    }
                    _ => labs::draw_severity(process, rng),
                },
                with_ast: rng.random_bool(0.7),
                with_bilirubin: rng.random_bool(0.12),
            };
            from = episode.end;
            out.push(episode);
        }
    }
    out
}

/// The first onset after `start` under a piecewise-constant hazard, by inverting the cumulative
/// hazard. Pieces are at most a year long (age changes the hazard) and break where an exposure
/// begins or ends.
fn onset<R: Rng>(
    process: Process,
    daily: &dyn Fn(i32) -> f64,
    start: i32,
    end: i32,
    modifiers: &[Modifier],
    rng: &mut R,
) -> Option<i32> {
    let mut budget = sample_exp(rng);
    let mut cuts: Vec<i32> = (start..end).step_by(365).chain([end]).collect();
    for m in modifiers.iter().filter(|m| m.process == process) {
        cuts.extend([m.from.clamp(start, end), m.to.clamp(start, end)]);
    }
    cuts.sort_unstable();
    cuts.dedup();
    for w in cuts.windows(2) {
        let (a, b) = (w[0], w[1]);
        let mid = a + (b - a) / 2;
        let ratio: f64 = modifiers
            .iter()
            .filter(|m| m.process == process && m.from <= mid && mid < m.to)
            .map(|m| m.hazard_ratio)
            .fold(1.0, f64::max);
        let rate = daily(mid) * ratio;
        let span = (b - a) as f64;
        if budget <= rate * span {
            return Some(a + (budget / rate) as i32);
        }
        budget -= rate * span;
    }
    None
}

/// A patient's well level of each analyte and the band well results stay in.
struct WellLevels {
    level: [f64; ANALYTES.len()],
    band: [(f64, f64); ANALYTES.len()],
}

impl WellLevels {
    fn draw<R: Rng>(ctx: &SiteContext, female: bool, age: f64, rng: &mut R) -> WellLevels {
        let sex = if female { 0 } else { 1 };
        let mut level = [0.0; ANALYTES.len()];
        let mut band = [(0.0, f64::INFINITY); ANALYTES.len()];
        for (i, _) in ANALYTES.iter().enumerate() {
            let site = &ctx.profile.analytes[i];
            let (lo, hi) = (site.ref_low[sex], site.ref_high[sex]);
            level[i] = lo + (hi - lo) * rng.random_range(0.15..0.85);
            band[i] = well_band(i, lo, hi);
        }
        // Chronic conditions that put a baseline outside the reference range without reaching any
        // outcome threshold (these patients leave the baseline-normal subgroup).
        let old = logistic((age - 70.0) / 8.0);
        let mut shift = |i: usize, chance: f64, factor: std::ops::Range<f64>, rng: &mut R| {
            if rng.random_bool(chance) {
                let site = &ctx.profile.analytes[i];
                let base = if factor.start > 1.0 { site.ref_high[sex] } else { site.ref_low[sex] };
                level[i] = base * rng.random_range(factor);
            }
        };
        shift(labs::ALT, 0.08, 1.1..2.2, rng);
        shift(labs::AST, 0.05, 1.1..2.0, rng);
        shift(labs::GGT, 0.08, 1.1..2.0, rng);
        shift(labs::HB, 0.05 + 0.15 * old, 0.78..0.97, rng);
        shift(labs::PLATELETS, 0.04, 0.65..0.95, rng);
        shift(labs::POTASSIUM, 0.03, 1.02..1.08, rng);
        shift(labs::SODIUM, 0.03, 0.955..0.99, rng);
        // Kidney function: eGFR falls with age; below 60 is chronic kidney disease, kept below 58.5.
        let z: f64 = StandardNormal.sample(rng);
        let egfr = (92.0 - 0.75 * (age - 40.0).max(0.0) + 14.0 * z).clamp(12.0, 130.0);
        let egfr = if egfr >= 60.0 { egfr.max(66.0) } else { egfr.min(56.0) };
        let adult_age = age.max(18.0);
        level[labs::CREATININE] = labs::creatinine_for(egfr, adult_age, female);
        band[labs::CREATININE] = if egfr >= 60.0 {
            (0.1, labs::creatinine_for(61.0, adult_age + 6.0, female))
        } else {
            (labs::creatinine_for(58.5, adult_age - 6.0, female), 15.0)
        };
        WellLevels { level, band }
    }
}

/// The band a well result stays in, by analyte, from the site's range.
fn well_band(i: usize, lo: f64, hi: f64) -> (f64, f64) {
    match i {
        labs::ALT | labs::AST => (0.3 * lo, 2.6 * hi),
        labs::ALP | labs::GGT => (0.3 * lo, 2.3 * hi),
        labs::TBIL => (0.1, 1.4 * hi),
        labs::WBC => (3.1, 14.0),
        labs::HB => (10.2, 19.0),
        labs::PLATELETS => (95.0, 600.0),
        labs::NEUTROPHILS => (1.6, 10.0),
        labs::LYMPHOCYTES => (0.85, 5.0),
        labs::EOSINOPHILS => (0.0, 0.95 * hi),
        labs::SODIUM => (131.0, 149.0),
        labs::POTASSIUM => (3.1, 5.4),
        labs::CALCIUM => (8.1, 11.0),
        labs::ALBUMIN => (2.5, 5.5),
        labs::KL6 => (50.0, 480.0),
        labs::SPD => (1.0, 105.0),
        labs::SPA => (1.0, 42.0),
        _ => (0.0, f64::INFINITY),
    }
}

/// Decimals of a reported value: the analyte's own, adjusted for a reporting unit 10^k times the
/// canonical one.
fn reported_decimals(decimals: u32, factor: f64) -> u32 {
    let shift = factor.log10().round() as i32;
    (decimals as i32 + shift).max(0) as u32
}

fn month_start(day: i32) -> i32 {
    let date = chrono::DateTime::from_timestamp(day as i64 * 86_400, 0).expect("in range").date_naive();
    day - (chrono::Datelike::day(&date) as i32 - 1)
}

fn month_end(day: i32) -> i32 {
    let mut d = day;
    while month_start(d + 1) != d + 1 {
        d += 1;
    }
    d
}

fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn sample_exp<R: Rng>(rng: &mut R) -> f64 {
    Exp1.sample(rng)
}

/// A Poisson count by inversion (means here are small).
fn poisson<R: Rng>(rng: &mut R, mean: f64) -> u32 {
    let limit = (-mean).exp();
    let mut product: f64 = rng.random();
    let mut n = 0;
    while product > limit && n < 1000 {
        product *= rng.random::<f64>();
        n += 1;
    }
    n
}
