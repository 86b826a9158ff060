//! The outcome library (`sql/protocol/outcomes.toml`) and the protocol script written from it.
//!
//! The library is data a reviewer reads and changes: analytes (a selection of lab results and a
//! baseline pick) and outcomes (an event selection and a baseline-normal condition, both in the
//! script language). [`Library::script`] writes them into the protocol template; the script is then
//! checked and compiled like any other, so a mistake in the library is reported with the line of
//! the generated script and the outcome it came from.

use serde::Deserialize;

use crate::bad_input;
use crate::error::Result;

/// The library shipped with midnet.
pub const OUTCOMES_TOML: &str = include_str!("../../sql/protocol/outcomes.toml");
/// The protocol script with the library's places marked `{{analyte_events}}`,
/// `{{analyte_baselines}}` and `{{outcomes}}`.
pub const TEMPLATE: &str = include_str!("../../sql/protocol/protocol.midnet.in");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Analyte {
    pub id: String,
    /// A selection of lab results (`lab_result where analyte = "alt"`).
    pub events: String,
    /// The baseline pick, written as `define baseline_<id> = …`.
    pub baseline: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    pub id: String,
    pub label: String,
    pub system: String,
    pub analytes: Vec<String>,
    pub severity: String,
    /// The event selection: the outcome is its first event in follow-up.
    pub event: String,
    /// The condition of the baseline-normal subgroup.
    pub baseline_normal: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Library {
    #[serde(rename = "analyte")]
    pub analytes: Vec<Analyte>,
    #[serde(rename = "outcome")]
    pub outcomes: Vec<Outcome>,
}

impl Library {
    /// The library shipped with midnet.
    pub fn builtin() -> Library {
        Library::parse(OUTCOMES_TOML, "sql/protocol/outcomes.toml").expect("the shipped outcome library is valid")
    }

    /// Parse and check a library: ids are names of the script language, unique, and every
    /// outcome's analytes are defined.
    pub fn parse(text: &str, origin: &str) -> Result<Library> {
        let library: Library =
            toml::from_str(text).map_err(|e| bad_input!("{origin}: not a valid outcome library: {e}"))?;
        let mut seen = std::collections::BTreeSet::new();
        for id in library.analytes.iter().map(|a| &a.id).chain(library.outcomes.iter().map(|o| &o.id)) {
            if !is_name(id) {
                return Err(bad_input!(
                    "{origin}: id `{id}` is not a script name; use ASCII letters, digits and `_`, starting with a letter"
                ));
            }
            if !seen.insert(id.as_str()) {
                return Err(bad_input!(
                    "{origin}: id `{id}` is defined twice; give each analyte and outcome its own id"
                ));
            }
        }
        for o in &library.outcomes {
            if o.analytes.is_empty() {
                return Err(bad_input!(
                    "{origin}: outcome `{}` names no analytes; list the analytes its rule reads",
                    o.id
                ));
            }
            if let Some(a) = o.analytes.iter().find(|a| !library.analytes.iter().any(|x| &x.id == *a)) {
                return Err(bad_input!(
                    "{origin}: outcome `{}` reads analyte `{a}`, which the library does not define; add an [[analyte]] \
                     with id = \"{a}\"",
                    o.id
                ));
            }
            for (field, text) in [("label", &o.label), ("event", &o.event), ("baseline_normal", &o.baseline_normal)] {
                if text.trim().is_empty() {
                    return Err(bad_input!("{origin}: outcome `{}` has an empty `{field}`", o.id));
                }
            }
            if o.label.contains('"') {
                return Err(bad_input!("{origin}: outcome `{}`: a label cannot contain a double quote", o.id));
            }
            if reads_suspected_diagnoses(&o.event) {
                return Err(bad_input!(
                    "{origin}: outcome `{}` counts diagnoses without excluding suspected ones (疑い病名); an outcome is \
                     a confirmed diagnosis: write `diagnosis where … and not suspected`",
                    o.id
                ));
            }
        }
        Ok(library)
    }

    pub fn outcome(&self, id: &str) -> Option<&Outcome> {
        self.outcomes.iter().find(|o| o.id == id)
    }

    /// The full protocol script.
    pub fn script(&self) -> String {
        let events: Vec<String> =
            self.analytes.iter().map(|a| format!("events {} = {}", a.id, a.events.trim())).collect();
        let baselines: Vec<String> =
            self.analytes.iter().map(|a| format!("define baseline_{} = {}", a.id, a.baseline.trim())).collect();
        let outcomes: Vec<String> = self
            .outcomes
            .iter()
            .map(|o| {
                format!(
                    "# {} ({}; {})\noutcome {} \"{}\"\n  event: {}\n  baseline normal: {}\nend\n",
                    o.system,
                    o.analytes.join(", "),
                    o.severity,
                    o.id,
                    o.label,
                    o.event.trim(),
                    o.baseline_normal.trim()
                )
            })
            .collect();
        TEMPLATE
            .replace("{{analyte_events}}", &events.join("\n"))
            .replace("{{analyte_baselines}}", &baselines.join("\n"))
            .replace("{{outcomes}}", &outcomes.join("\n"))
    }
}

/// Whether an event selection reads the `diagnosis` table without `not suspected`: a suspected
/// diagnosis (疑い病名, often recorded to bill a test that then rules it out) is no outcome.
fn reads_suspected_diagnoses(event: &str) -> bool {
    let words: Vec<&str> =
        event.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| !w.is_empty()).collect();
    words.contains(&"diagnosis") && !words.windows(2).any(|pair| pair == ["not", "suspected"])
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic()) && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_library_defines_exactly_the_synthetic_network_outcomes() {
        let library = Library::builtin();
        let ids: Vec<&str> = library.outcomes.iter().map(|o| o.id.as_str()).collect();
        assert_eq!(ids, crate::synth::catalog::all_outcomes());
    }

    #[test]
    fn the_protocol_script_compiles() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("protocol.midnet");
        std::fs::write(&path, Library::builtin().script()).unwrap();
        let script = crate::script::Script::load(&path).unwrap();
        let values =
            crate::script::ParamValues::parse_args(&["drug=3969099", "comparator=3969010", "cutoff=2025-09-30"])
                .unwrap();
        script.compile(&values).unwrap();
    }

    #[test]
    fn bad_libraries_are_refused_with_the_reason() {
        let twice = format!("{OUTCOMES_TOML}\n[[analyte]]\nid = \"alt\"\nevents = \"x\"\nbaseline = \"y\"\n");
        assert!(Library::parse(&twice, "lib.toml").unwrap_err().to_string().contains("`alt` is defined twice"));
        let unknown = OUTCOMES_TOML.replacen("analytes = [\"alt\"]", "analytes = [\"altt\"]", 1);
        assert!(Library::parse(&unknown, "lib.toml").unwrap_err().to_string().contains("analyte `altt`"));
        let field = OUTCOMES_TOML.replacen("severity =", "severty =", 1);
        assert!(Library::parse(&field, "lib.toml").unwrap_err().to_string().contains("lib.toml"));
    }

    #[test]
    fn an_outcome_of_diagnoses_excludes_suspected_ones() {
        let event = |text: &str| OUTCOMES_TOML.replacen("event = 'alt where value > 3 * ref_high'", text, 1);
        let suspected = event("event = 'diagnosis where icd10 in icd10 [\"K71\"]'");
        let refused = Library::parse(&suspected, "lib.toml").unwrap_err().to_string();
        assert!(refused.contains("without excluding suspected ones") && refused.contains("not suspected"), "{refused}");
        let confirmed = event("event = 'diagnosis where icd10 in icd10 [\"K71\"] and not suspected'");
        let library = Library::parse(&confirmed, "lib.toml").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("protocol.midnet");
        std::fs::write(&path, library.script()).unwrap();
        let values =
            crate::script::ParamValues::parse_args(&["drug=3969099", "comparator=3969010", "cutoff=2025-09-30"])
                .unwrap();
        crate::script::Script::load(&path).unwrap().compile(&values).unwrap();
    }
}
