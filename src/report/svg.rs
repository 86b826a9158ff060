//! Inline SVG figures: the forest plot of hazard ratios (log scale) and step curves of cumulative
//! incidence.

use std::fmt::Write;

use super::{Table, esc};

const LABEL_WIDTH: f64 = 260.0;
const PLOT_WIDTH: f64 = 420.0;
const TEXT_WIDTH: f64 = 260.0;
const ROW: f64 = 18.0;

/// A forest plot of one subgroup's hazard ratios; rows without an estimate say why.
pub fn forest(r: &Table, subgroup: &str) -> String {
    let rows: Vec<&Vec<String>> = r.rows.iter().filter(|row| r.cell(row, "subgroup") == subgroup).collect();
    let num = |row: &Vec<String>, c: &str| r.cell(row, c).parse::<f64>().ok().filter(|v| v.is_finite() && *v > 0.0);
    let (mut lo, mut hi) = (0.5f64, 2.0f64);
    for row in &rows {
        if let (Some(l), Some(u)) = (num(row, "hr_lo95"), num(row, "hr_hi95")) {
            lo = lo.min(l);
            hi = hi.max(u);
        }
    }
    let (lo, hi) = (lo.max(0.01).log10().floor(), hi.min(100.0).log10().ceil());
    let x = |v: f64| LABEL_WIDTH + (v.clamp(10f64.powf(lo), 10f64.powf(hi)).log10() - lo) / (hi - lo) * PLOT_WIDTH;
    let height = ROW * (rows.len() as f64 + 2.0);
    let mut s = String::new();
    let width = LABEL_WIDTH + PLOT_WIDTH + TEXT_WIDTH;
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-size=\"11\" font-family=\"sans-serif\">"
    );
    let _ = writeln!(
        s,
        "<line x1=\"{0}\" y1=\"0\" x2=\"{0}\" y2=\"{1}\" stroke=\"#888\" stroke-dasharray=\"3,3\"/>",
        x(1.0),
        height - ROW
    );
    for (i, row) in rows.iter().enumerate() {
        let y = ROW * (i as f64 + 0.5) + 4.0;
        let flagged = r.cell(row, "flagged") == "yes";
        let colour = if flagged { "#c0392b" } else { "#222" };
        let _ = writeln!(s, "<text x=\"4\" y=\"{y}\" fill=\"{colour}\">{}</text>", esc(r.cell(row, "outcome")));
        match (num(row, "hr"), num(row, "hr_lo95"), num(row, "hr_hi95")) {
            (Some(h), Some(l), Some(u)) => {
                let cy = y - 4.0;
                let _ = writeln!(
                    s,
                    "<line x1=\"{:.1}\" y1=\"{cy}\" x2=\"{:.1}\" y2=\"{cy}\" stroke=\"{colour}\"/>",
                    x(l),
                    x(u)
                );
                let _ = writeln!(
                    s,
                    "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"6\" height=\"6\" fill=\"{colour}\"/>",
                    x(h) - 3.0,
                    cy - 3.0
                );
                let _ = writeln!(
                    s,
                    "<text x=\"{}\" y=\"{y}\" fill=\"{colour}\">{h:.2} ({l:.2}-{u:.2}){}</text>",
                    LABEL_WIDTH + PLOT_WIDTH + 8.0,
                    if flagged { " flagged" } else { "" }
                );
            }
            _ => {
                let _ = writeln!(
                    s,
                    "<text x=\"{}\" y=\"{y}\" fill=\"#888\">{}</text>",
                    LABEL_WIDTH + 4.0,
                    esc(r.cell(row, "status"))
                );
            }
        }
    }
    let axis_y = height - ROW + 12.0;
    for p in (lo as i32)..=(hi as i32) {
        let v = 10f64.powi(p);
        let _ = writeln!(s, "<text x=\"{:.1}\" y=\"{axis_y}\" text-anchor=\"middle\">{}</text>", x(v), trim(v));
    }
    let _ = writeln!(s, "<text x=\"{:.1}\" y=\"{axis_y}\" text-anchor=\"middle\">1</text>", x(1.0));
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">hazard ratio, drug vs comparator (log scale)</text>",
        LABEL_WIDTH + PLOT_WIDTH / 2.0,
        height
    );
    s.push_str("</svg>\n");
    s
}

fn trim(v: f64) -> String {
    let t = format!("{v}");
    if t.contains('.') { t.trim_end_matches('0').trim_end_matches('.').to_string() } else { t }
}

/// Cumulative-incidence step curves of one outcome and subgroup, drug (red) and comparator (blue).
pub fn curves(c: &Table, outcome: &str, subgroup: &str) -> String {
    let (w, h, pad) = (480.0, 240.0, 40.0);
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
    let max_ci = series.iter().flat_map(|s| s.2.iter().map(|p| p.1)).fold(0.01f64, f64::max) * 1.1;
    let x = |d: f64| pad + d / max_day * (w - 2.0 * pad);
    let y = |v: f64| h - pad - v / max_ci * (h - 2.0 * pad);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-size=\"11\" font-family=\"sans-serif\">"
    );
    let _ = writeln!(s, "<line x1=\"{pad}\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\" stroke=\"#888\"/>", h - pad, w - pad);
    let _ = writeln!(s, "<line x1=\"{pad}\" y1=\"{pad}\" x2=\"{pad}\" y2=\"{}\" stroke=\"#888\"/>", h - pad);
    for (k, (name, colour, points)) in series.iter().enumerate() {
        let mut path = format!("M{:.1},{:.1}", x(0.0), y(0.0));
        let mut last = 0.0;
        for &(d, v) in points {
            let _ = write!(path, " H{:.1} V{:.1}", x(d), y(v));
            last = v;
        }
        let _ = write!(path, " H{:.1}", x(max_day));
        let _ = writeln!(s, "<path d=\"{path}\" fill=\"none\" stroke=\"{colour}\"/>");
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" fill=\"{colour}\">{name}: {:.1}%</text>",
            pad + 8.0,
            pad + 14.0 * k as f64,
            last * 100.0
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">days since index (0-{max_day:.0})</text>",
        w / 2.0,
        h - 8.0
    );
    let _ = writeln!(s, "<text x=\"4\" y=\"{}\">{:.1}%</text>", pad, max_ci * 100.0);
    s.push_str("</svg>\n");
    s
}
