//! Inline SVG figures: the forest plot of hazard ratios (log scale) and step curves of cumulative
//! incidence. Every text sits in a band of its own (labels left of the plot, estimates right of it,
//! tick labels under the axis, the axis title under them), so nothing overlaps or is clipped.

use std::fmt::Write;

use super::{Table, esc, number};

/// Font size of every figure's text, and the height a line of it takes.
const FONT: f64 = 11.0;
const LINE: f64 = 14.0;

const LABEL_WIDTH: f64 = 190.0;
const PLOT_WIDTH: f64 = 400.0;
const TEXT_WIDTH: f64 = 200.0;
const ROW: f64 = 18.0;
/// Below the rows: the axis, its tick labels, then its title.
const AXIS_HEIGHT: f64 = 8.0 + LINE + 6.0 + LINE + 4.0;

/// The log10 range of a forest plot's axis: whole decades around the intervals and 0.5-2, within
/// 0.01-100 (an interval beyond is drawn to the edge with an arrow).
fn decades(intervals: &[(f64, f64)]) -> (f64, f64) {
    let (lo, hi) = intervals.iter().fold((0.5f64, 2.0f64), |(lo, hi), &(l, u)| (lo.min(l), hi.max(u)));
    (lo.max(0.01).log10().floor(), hi.min(100.0).log10().ceil())
}

/// Tick values of a log axis over decades `lo..=hi`: 1, 2, 5 of each decade when it spans at most
/// two, the decades alone otherwise.
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let steps: &[f64] = if hi - lo <= 2.0 { &[1.0, 2.0, 5.0] } else { &[1.0] };
    let mut out = Vec::new();
    for p in (lo as i32)..=(hi as i32) {
        for step in steps {
            let v = step * 10f64.powi(p);
            if v.log10() <= hi + 1e-9 {
                out.push(v);
            }
        }
    }
    out
}

/// A forest plot of the rows whose hazard ratio was estimated; `None` when none was. The rows
/// without an estimate are listed under the plot by the caller, with why.
pub fn forest(r: &Table, rows: &[&Vec<String>]) -> Option<String> {
    let num = |row: &Vec<String>, c: &str| r.cell(row, c).parse::<f64>().ok().filter(|v| v.is_finite() && *v > 0.0);
    let estimated: Vec<(&Vec<String>, [f64; 3])> = rows
        .iter()
        .filter_map(|row| Some((*row, [num(row, "hr")?, num(row, "hr_lo95")?, num(row, "hr_hi95")?])))
        .collect();
    if estimated.is_empty() {
        return None;
    }
    let intervals: Vec<(f64, f64)> = estimated.iter().map(|(_, [_, l, u])| (*l, *u)).collect();
    let (lo, hi) = decades(&intervals);
    let (min, max) = (10f64.powf(lo), 10f64.powf(hi));
    let x = |v: f64| LABEL_WIDTH + (v.clamp(min, max).log10() - lo) / (hi - lo) * PLOT_WIDTH;
    let top = ROW;
    let bottom = top + ROW * estimated.len() as f64;
    let (width, height) = (LABEL_WIDTH + PLOT_WIDTH + TEXT_WIDTH, bottom + AXIS_HEIGHT);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-size=\"{FONT}\" font-family=\"sans-serif\">"
    );
    let header = top - 5.0;
    let _ = writeln!(s, "<text x=\"4\" y=\"{header}\" font-weight=\"bold\">outcome</text>");
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"{header}\" font-weight=\"bold\">HR (95% CI)</text>",
        LABEL_WIDTH + PLOT_WIDTH + 8.0
    );
    let _ = writeln!(
        s,
        "<line x1=\"{0:.1}\" y1=\"{top}\" x2=\"{0:.1}\" y2=\"{bottom}\" stroke=\"#888\" stroke-dasharray=\"3,3\"/>",
        x(1.0)
    );
    for (i, (row, [h, l, u])) in estimated.iter().enumerate() {
        let cy = top + ROW * (i as f64 + 0.5);
        let y = cy + FONT / 2.0 - 1.5;
        let flag = r.flag(row);
        let (colour, mark) = match flag {
            super::Flag::Sequential => ("#c0392b", " FLAGGED"),
            super::Flag::UnadjustedOnly => ("#b9770e", " unadjusted flag only"),
            super::Flag::None => ("#222", ""),
        };
        let _ = writeln!(s, "<text x=\"4\" y=\"{y}\" fill=\"{colour}\">{}</text>", esc(r.cell(row, "outcome")));
        let _ =
            writeln!(s, "<line x1=\"{:.1}\" y1=\"{cy}\" x2=\"{:.1}\" y2=\"{cy}\" stroke=\"{colour}\"/>", x(*l), x(*u));
        if *l < min {
            s.push_str(&arrow(x(min), cy, -1.0, colour));
        }
        if *u > max {
            s.push_str(&arrow(x(max), cy, 1.0, colour));
        }
        let _ = writeln!(
            s,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"7\" height=\"7\" fill=\"{colour}\"/>",
            x(*h) - 3.5,
            cy - 3.5
        );
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{y}\" fill=\"{colour}\">{} ({}-{}){}</text>",
            LABEL_WIDTH + PLOT_WIDTH + 8.0,
            number(*h),
            number(*l),
            number(*u),
            mark
        );
    }
    let _ =
        writeln!(s, "<line x1=\"{LABEL_WIDTH}\" y1=\"{bottom}\" x2=\"{}\" y2=\"{bottom}\" stroke=\"#888\"/>", x(max));
    let tick_y = bottom + 8.0 + LINE - 3.0;
    for v in ticks(lo, hi) {
        let _ = writeln!(
            s,
            "<line x1=\"{0:.1}\" y1=\"{bottom}\" x2=\"{0:.1}\" y2=\"{1}\" stroke=\"#888\"/>\n\
             <text x=\"{0:.1}\" y=\"{tick_y}\" text-anchor=\"middle\">{2}</text>",
            x(v),
            bottom + 4.0,
            trim(v)
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">hazard ratio, drug vs comparator (log scale; above 1: more events on \
         the drug)</text>",
        LABEL_WIDTH + PLOT_WIDTH / 2.0,
        tick_y + 6.0 + LINE
    );
    s.push_str("</svg>\n");
    Some(s)
}

/// A tick value as written: `0.01`, `0.2`, `1`, `50`.
fn trim(v: f64) -> String {
    let t = format!("{v:.2}");
    t.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// An arrowhead at `x`, pointing left (`direction` -1) or right (+1): the interval goes on.
fn arrow(x: f64, y: f64, direction: f64, colour: &str) -> String {
    let back = x - 6.0 * direction;
    format!("<path d=\"M{x:.1},{y:.1} L{back:.1},{:.1} L{back:.1},{:.1} Z\" fill=\"{colour}\"/>\n", y - 4.0, y + 4.0)
}

/// A step for ticks on a day axis of `max_day` days: a month, a quarter, half a year, a year or
/// whole years, whichever gives at most eight ticks.
fn day_step(max_day: f64) -> f64 {
    [30.0, 90.0, 180.0, 365.0]
        .into_iter()
        .find(|step| max_day / step <= 8.0)
        .unwrap_or((max_day / 8.0 / 365.0).ceil() * 365.0)
}

/// A step for percentage ticks up to `highest` percent: 1, 2, 2.5 or 5 times a power of ten,
/// whichever gives at most five steps.
fn percent_step(highest: f64) -> f64 {
    let magnitude = 10f64.powf((highest.max(0.1) / 5.0).log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|step| highest / step <= 5.0)
        .unwrap_or(10.0 * magnitude)
}

/// Cumulative-incidence step curves of one outcome and subgroup, drug (red) and comparator (blue),
/// with day ticks on the time axis, percentage ticks on the other, and a legend beside the plot.
pub fn curves(c: &Table, outcome: &str, subgroup: &str) -> String {
    let (w, h) = (660.0, 260.0);
    let (left, right, top, bottom) = (56.0, 440.0, 12.0, h - AXIS_HEIGHT);
    // A group's name, colour and (day, cumulative incidence) points.
    type Series<'a> = (&'a str, &'a str, Vec<(f64, f64)>);
    let mut series: Vec<Series> = vec![("drug", "#c0392b", Vec::new()), ("comparator", "#2c6fbb", Vec::new())];
    for row in c.rows.iter().filter(|row| c.cell(row, "outcome") == outcome && c.cell(row, "subgroup") == subgroup) {
        let (Ok(day), Ok(ci)) = (c.cell(row, "day").parse::<f64>(), c.cell(row, "cumulative_incidence").parse::<f64>())
        else {
            continue;
        };
        if let Some(s) = series.iter_mut().find(|s| s.0 == c.cell(row, "group")) {
            s.2.push((day, ci));
        }
    }
    let max_day = series.iter().flat_map(|s| s.2.iter().map(|p| p.0)).fold(30.0f64, f64::max);
    let highest = series.iter().flat_map(|s| s.2.iter().map(|p| p.1)).fold(0.0f64, f64::max);
    let percent_step = percent_step(highest * 100.0);
    let max_ci = (highest * 100.0 / percent_step).floor().max(0.0) as usize + 1;
    let max_ci = max_ci as f64 * percent_step / 100.0;
    let x = |d: f64| left + d / max_day * (right - left);
    let y = |v: f64| bottom - v / max_ci * (bottom - top);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-size=\"{FONT}\" font-family=\"sans-serif\">"
    );
    let _ = writeln!(s, "<line x1=\"{left}\" y1=\"{bottom}\" x2=\"{right}\" y2=\"{bottom}\" stroke=\"#888\"/>");
    let _ = writeln!(s, "<line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{bottom}\" stroke=\"#888\"/>");
    let step = day_step(max_day);
    let tick_y = bottom + 8.0 + LINE - 3.0;
    let mut day = 0.0;
    while day <= max_day {
        let _ = writeln!(
            s,
            "<line x1=\"{0:.1}\" y1=\"{bottom}\" x2=\"{0:.1}\" y2=\"{1}\" stroke=\"#888\"/>\n\
             <text x=\"{0:.1}\" y=\"{tick_y}\" text-anchor=\"middle\">{day}</text>",
            x(day),
            bottom + 4.0
        );
        day += step;
    }
    let mut percent = 0.0;
    while percent <= max_ci * 100.0 + 1e-9 {
        let v = percent / 100.0;
        let _ = writeln!(
            s,
            "<line x1=\"{0}\" y1=\"{1:.1}\" x2=\"{left}\" y2=\"{1:.1}\" stroke=\"#888\"/>\n\
             <text x=\"{2}\" y=\"{3:.1}\" text-anchor=\"end\">{4}%</text>",
            left - 4.0,
            y(v),
            left - 6.0,
            y(v) + FONT / 2.0 - 1.5,
            trim(percent)
        );
        percent += percent_step;
    }
    // Each curve ends at its own last point: past it too few of the group remain at risk to show
    // (tables::curve_points), and drawing it on flat would claim what no one saw.
    for (k, (name, colour, points)) in series.iter().enumerate() {
        let mut path = format!("M{:.1},{:.1}", x(0.0), y(0.0));
        let (mut last_day, mut last) = (0.0, 0.0);
        for &(d, v) in points {
            let _ = write!(path, " H{:.1} V{:.1}", x(d), y(v));
            (last_day, last) = (d, v);
        }
        let _ = writeln!(s, "<path d=\"{path}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\"/>");
        let legend = if points.is_empty() {
            format!("{name}: no point shown")
        } else {
            format!("{name}: {:.1}% at day {last_day:.0}", last * 100.0)
        };
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" fill=\"{colour}\">{legend}</text>",
            right + 12.0,
            top + 10.0 + LINE * k as f64
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">days since the index date</text>",
        (left + right) / 2.0,
        tick_y + 6.0 + LINE
    );
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn results(rows: &[[&str; 6]]) -> Table {
        Table {
            columns: ["outcome", "hr", "hr_lo95", "hr_hi95", "status", "flagged"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            rows: rows.iter().map(|r| r.iter().map(|s| s.to_string()).collect()).collect(),
        }
    }

    /// The `y` of every `<text>` element, with its content.
    fn texts(svg: &str) -> Vec<(f64, String)> {
        svg.split("<text ")
            .skip(1)
            .map(|t| {
                let y = t.split("y=\"").nth(1).and_then(|r| r.split('"').next()).unwrap().parse().unwrap();
                let body = t.split('>').nth(1).unwrap().split('<').next().unwrap().to_string();
                (y, body)
            })
            .collect()
    }

    fn height(svg: &str) -> f64 {
        svg.split("height=\"").nth(1).and_then(|r| r.split('"').next()).unwrap().parse().unwrap()
    }

    #[test]
    fn the_axis_title_sits_below_the_tick_labels_inside_the_figure() {
        let r = results(&[
            ["alt", "1.9", "0.3", "10.6", "estimated", "no"],
            ["ast", "3.0", "1.2", "7.5", "estimated", "yes"],
        ]);
        let rows: Vec<&Vec<String>> = r.rows.iter().collect();
        let svg = forest(&r, &rows).unwrap();
        let texts = texts(&svg);
        let title = texts.iter().find(|(_, t)| t.starts_with("hazard ratio")).unwrap().0;
        let tick = texts.iter().find(|(_, t)| t == "1").unwrap().0;
        let last_row = texts.iter().find(|(_, t)| t == "ast").unwrap().0;
        assert!(tick - FONT >= last_row + 2.0, "tick labels overlap the rows: {tick} vs {last_row}");
        assert!(title - FONT >= tick + 2.0, "the axis title overlaps the tick labels: {title} vs {tick}");
        assert!(title + 4.0 <= height(&svg), "the axis title is clipped: {title} in {}", height(&svg));
    }

    #[test]
    fn only_estimated_rows_are_plotted_and_clipped_intervals_get_arrows() {
        let r = results(&[
            ["alt", "1.9", "0.001", "9000", "estimated", "no"],
            ["kl6", "", "", "", "not estimable: no events", "no"],
        ]);
        let rows: Vec<&Vec<String>> = r.rows.iter().collect();
        let svg = forest(&r, &rows).unwrap();
        assert!(!svg.contains("kl6") && !svg.contains("not estimable"), "{svg}");
        assert_eq!(svg.matches("<path").count(), 2, "an arrow at each clipped end: {svg}");
        assert!(forest(&r, &rows[1..]).is_none());
    }

    #[test]
    fn ticks_follow_the_range() {
        assert_eq!(ticks(-1.0, 1.0), [0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0]);
        assert_eq!(ticks(-2.0, 2.0), [0.01, 0.1, 1.0, 10.0, 100.0]);
        assert_eq!(day_step(300.0), 90.0);
        assert_eq!(day_step(2000.0), 365.0);
        assert_eq!(day_step(5000.0), 730.0);
        for (highest, step) in [(13.4, 5.0), (10.0, 2.0), (0.7, 0.2), (0.0, 0.01)] {
            assert!((percent_step(highest) - step).abs() < 1e-12, "{highest}: {}", percent_step(highest));
        }
    }

    #[test]
    fn curves_have_day_ticks_and_an_axis_title() {
        let c = Table {
            columns: ["outcome", "subgroup", "group", "day", "cumulative_incidence"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            rows: [
                ["alt", "all", "drug", "0", "0"],
                ["alt", "all", "drug", "360", "0.05"],
                ["alt", "all", "comparator", "180", "0.02"],
            ]
            .iter()
            .map(|r| r.iter().map(|s| s.to_string()).collect())
            .collect(),
        };
        let svg = curves(&c, "alt", "all");
        let texts = texts(&svg);
        for tick in ["0", "90", "180", "270", "360", "0%", "1%", "5%", "6%"] {
            assert!(texts.iter().any(|(_, t)| t == tick), "no tick {tick}: {svg}");
        }
        // Each group's curve and legend end at its own last point (the comparator's is day 180).
        assert!(texts.iter().any(|(_, t)| t == "drug: 5.0% at day 360"), "{svg}");
        assert!(texts.iter().any(|(_, t)| t == "comparator: 2.0% at day 180"), "{svg}");
        let comparator = svg.lines().find(|l| l.contains("#2c6fbb") && l.starts_with("<path")).unwrap();
        let end = format!("H{:.1} V", 56.0 + 180.0 / 360.0 * (440.0 - 56.0));
        assert!(comparator.contains(&end) && !comparator.contains("H440.0"), "{comparator}");
        let title = texts.iter().find(|(_, t)| t.starts_with("days since")).unwrap().0;
        let tick = texts.iter().find(|(_, t)| t == "90").unwrap().0;
        assert!(title - FONT >= tick + 2.0 && title + 4.0 <= height(&svg), "{svg}");
    }
}
