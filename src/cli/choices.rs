//! The library's enums a command offers as choices, with the names and help the command line
//! shows. They are the command layer's business: the library enums know nothing of clap.

use clap::ValueEnum;
use clap::builder::PossibleValue;

use crate::export::Stage;
use crate::project::{Purpose, Role};
use crate::protocol::surveillance::Timescale;
use crate::stats::cox::Ties;
use crate::stats::incidence::PoissonCi;
use crate::stats::sequential::Spending;

/// `impl ValueEnum for TYPE { Variant => "name" ("help"), … }`.
macro_rules! choices {
    ($ty:ty { $($variant:ident => $name:literal $(($help:literal))?),* $(,)? }) => {
        impl ValueEnum for $ty {
            fn value_variants<'a>() -> &'a [Self] {
                &[$(Self::$variant),*]
            }

            fn to_possible_value(&self) -> Option<PossibleValue> {
                Some(match self {
                    $(Self::$variant => PossibleValue::new($name)$(.help($help))?),*
                })
            }
        }
    };
}

choices!(Purpose {
    PostMarketing => "post_marketing" ("A marketing-authorisation holder's post-marketing study (製造販売後調査)"),
    SignalDetection => "signal_detection" ("Administrative use: signal detection (行政利活用)"),
    SignalRefinement => "signal_refinement"
        ("Administrative use: signal refinement; the drug is withheld from the register for a while"),
    Research => "research" ("Public-interest research (公益性の高い調査・研究)"),
});

choices!(Role {
    Contractor => "contractor" ("利活用契約者: responsible for the project; files changes, extensions and termination"),
    Analyst => "analyst" ("MID-NET利活用者: works in the work area"),
    StatisticsUser => "statistics_user" ("統計情報利活用者: sees exported statistics only"),
    Reviewer => "reviewer" ("The operator (機構): provisions, suspends and closes projects, reviews exports"),
});

choices!(Stage { Publish => "publish", Export => "export" });

choices!(Ties {
    Efron => "efron" ("Efron (1977): the tied events leave the risk set a fraction at a time"),
    Breslow => "breslow" ("Breslow (1974): every tied event sees the full risk set"),
});

choices!(Spending {
    OBrienFleming => "obrien_fleming"
        ("O'Brien-Fleming type: spends almost nothing early, the last look keeps nearly the single test's level"),
    Pocock => "pocock" ("Pocock type: spends evenly over the plan, so early looks can cross sooner"),
});

choices!(Timescale {
    Calendar => "calendar" ("the share of the plan's calendar time reached, the same for every test"),
    Information => "information" ("each test's information over the plan's --max-information"),
});

choices!(PoissonCi {
    Exact => "exact"
        ("Exact (Garwood 1936): each tail of the Poisson distribution holds at most 2.5%; conservative"),
    MidP => "mid-p" (
        "Mid-p exact (Lancaster 1961): the observed count's probability counts half in each tail; closer to the \
         nominal coverage"
    ),
    Byar => "byar" (
        "Byar's approximation to the exact interval (Rothman & Boice 1979): closed form, close to exact from a few \
         events on"
    ),
});
