//! The `--report` page: one self-contained HTML file (inline CSS and SVG, no
//! scripts, fonts or other external resources) that shows an evaluation at a
//! glance: headline numbers, the scenario table, risk timelines of the
//! labelled and the riskiest users with the alert threshold and alerts
//! marked, findings per detector over time, ueba against the rules,
//! and the intensity sweep when one was run.
//!
//! Charts are drawn with plotters' SVG backend into strings. Between two
//! findings a timeline decays the risk with the configured half-life, as the
//! engine does; the engine decays each detector's component separately, so
//! the curve between findings is a close approximation, exact at findings.

use std::fmt::Write as _;

use plotters::coord::Shift;
use plotters::coord::ranged1d::SegmentedCoord;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::sweep::{LevelResult, SweepResult};
use super::{EvalError, Evaluation, human_duration, kind_word};

/// Users drawn besides the labelled ones: the riskiest by peak.
pub const TOP_USERS: usize = 8;

const DAY_MS: i64 = 86_400_000;
const FONT: &str = "sans-serif";
const INK: RGBColor = RGBColor(0x33, 0x33, 0x33);
const GRID: RGBColor = RGBColor(0xe4, 0xe4, 0xe4);
const RISK: RGBColor = RGBColor(0x1f, 0x5f, 0xa8);
const ALERT: RGBColor = RGBColor(0xc6, 0x28, 0x28);
const MALICIOUS: RGBColor = RGBColor(0xe6, 0x7e, 0x00);
const BENIGN: RGBColor = RGBColor(0x2e, 0x8b, 0x57);
const RULE: RGBColor = RGBColor(0x9e, 0x9e, 0x9e);
const SERIES: [RGBColor; 6] = [
    RGBColor(0x1f, 0x5f, 0xa8),
    RGBColor(0x2e, 0x8b, 0x57),
    RGBColor(0x00, 0x89, 0x9b),
    RGBColor(0x8e, 0x44, 0xad),
    RGBColor(0xc6, 0x28, 0x28),
    RGBColor(0x55, 0x55, 0x55),
];

fn plot_err<E: std::fmt::Display>(what: &str) -> impl Fn(E) -> EvalError + '_ {
    move |e| EvalError::Plot {
        what: what.to_string(),
        message: e.to_string(),
    }
}

/// Draw into an SVG string of `size` pixels.
fn svg(
    what: &str,
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), EvalError>,
) -> Result<String, EvalError> {
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, size).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err(what))?;
        draw(&root)?;
        root.present().map_err(plot_err(what))?;
    }
    Ok(buf)
}

/// Escape text for HTML. Names and descriptions come from the log and
/// the labels file, so control, bidirectional and invisible characters are
/// first written as visible `\u{..}` escapes, as on a terminal: a page must
/// not show a user name other than the one in the log.
fn esc(s: &str) -> String {
    let s = ueba_engine::sandbox::gate::escape_text(s);
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A share as a percentage, with a decimal below 10 % so 0.5 % is not "0%".
fn pct(x: Option<f64>) -> String {
    x.map_or_else(|| "–".into(), pct_of)
}

fn pct_of(v: f64) -> String {
    if v > 0.0 && v < 0.1 {
        format!("{:.1}%", v * 100.0)
    } else {
        format!("{:.0}%", v * 100.0)
    }
}

fn num(x: Option<f64>, digits: usize) -> String {
    x.map_or_else(|| "–".into(), |v| format!("{v:.digits$}"))
}

/// `Jan 26` for the UTC day of `ms`.
fn day_label(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%b %d").to_string())
        .unwrap_or_default()
}

const CSS: &str = r#"
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;margin:0;background:#f6f7f9}
main{max-width:1360px;margin:0 auto;padding:24px 32px 48px}
h1{font-size:26px;margin:8px 0 4px}
h2{font-size:19px;margin:36px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
p.lede,p.note{color:#555;margin:4px 0 12px;max-width:1000px;line-height:1.45}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
.card{background:#fff;border:1px solid #e0e0e0;border-radius:8px;padding:10px 16px;min-width:150px}
.card b{display:block;font-size:24px}
.card span{color:#666;font-size:13px}
table{border-collapse:collapse;background:#fff;font-size:14px;margin:8px 0}
th,td{border:1px solid #e0e0e0;padding:5px 9px;text-align:left;vertical-align:top}
th{background:#f0f2f5}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.desc{color:#555;font-size:13px;max-width:520px}
.ok{color:#1b7a3d;font-weight:600}.bad{color:#b71c1c;font-weight:600}.muted{color:#777}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(640px,1fr));gap:12px}
figure{margin:0;background:#fff;border:1px solid #e0e0e0;border-radius:8px;padding:6px}
figure svg{display:block;width:100%;height:auto}
figcaption{font-size:12px;color:#666;padding:2px 6px}
.legend span{display:inline-block;margin-right:16px;font-size:13px;color:#444}
.legend i{display:inline-block;width:22px;height:3px;vertical-align:middle;margin-right:6px}
"#;

/// The whole page for an evaluation, a sweep, or both.
pub fn html(eval: Option<&Evaluation>, sweep: Option<&SweepResult>) -> Result<String, EvalError> {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>ueba detection evaluation</title><style>{CSS}</style></head><body><main>\n\
         <h1>ueba detection evaluation</h1>\n"
    );
    if let Some(e) = eval {
        evaluation_sections(&mut h, e)?;
    }
    if let Some(s) = sweep {
        sweep_section(&mut h, s)?;
    }
    h.push_str("</main></body></html>\n");
    Ok(h)
}

fn evaluation_sections(h: &mut String, e: &Evaluation) -> Result<(), EvalError> {
    let malicious: Vec<_> = e.scenarios.iter().filter(|s| s.malicious).collect();
    let detected = malicious.iter().filter(|s| s.detected).count();
    let _ = writeln!(
        h,
        "<p class=\"lede\">{} events from {} users over {} user-days, {}. \
         A user-day is one user's events on one UTC day; it is positive when a malicious \
         scenario starts on it ({} are) and is scored by the highest risk ueba computed that day; \
         a malicious user's later days ({}) are an attack under way, left out of the ranking.</p>",
        e.events,
        e.users,
        e.user_days,
        if e.source == "scored" {
            "scored by the built-in detectors"
        } else {
            "with alerts read from a file"
        },
        e.positive_user_days,
        e.ongoing_user_days
    );
    let _ = write!(h, "<div class=\"cards\" id=\"headline\">");
    let cards = [
        (
            format!("{detected}/{}", malicious.len()),
            "malicious scenarios detected",
        ),
        (num(e.roc_auc, 3), "ROC-AUC over user-days"),
        (num(e.pr_auc, 3), "PR-AUC over user-days"),
        (pct(e.recall_at_1pct_fpr), "recall at 1% FPR"),
        (pct(e.recall_at_5pct_fpr), "recall at 5% FPR"),
        (
            num(e.benign_alerts_per_1000_user_days, 2),
            "false alarms per 1,000 user-days",
        ),
    ];
    for (value, label) in cards {
        let _ = write!(
            h,
            "<div class=\"card\"><b>{}</b><span>{}</span></div>",
            esc(&value),
            label
        );
    }
    h.push_str("</div>\n");

    scenario_table(h, e);
    timelines(h, e)?;
    detector_section(h, e)?;
    rules_section(h, e)?;
    entity_section(h, e);
    Ok(())
}

/// The resources and sources the findings point at, when scored.
fn entity_section(h: &mut String, e: &Evaluation) {
    if e.resources.is_empty() && e.sources.is_empty() {
        return;
    }
    h.push_str(
        "<h2 id=\"entities\">Resources and sources</h2>\n<p class=\"note\">Risk per resource and \
         per source: the strongest user's evidence about it plus a capped bonus for other users' \
         (README \"Risk per resource and source\").</p>\n",
    );
    for (title, list) in [("resource", &e.resources), ("source", &e.sources)] {
        let _ = writeln!(
            h,
            "<table class=\"entities\"><thead><tr><th>{title}</th><th>peak risk</th>\
             <th>users</th><th>findings</th><th>users (the one behind the peak first)</th>\
             </tr></thead><tbody>"
        );
        for r in list {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td class=\"num\">{:.1}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td><td class=\"desc\">{}</td></tr>",
                esc(&r.name),
                r.peak_risk,
                r.users,
                r.findings,
                esc(&r.top_users.join(", "))
            );
        }
        h.push_str("</tbody></table>\n");
    }
}

fn scenario_table(h: &mut String, e: &Evaluation) {
    h.push_str(
        "<h2 id=\"scenarios\">Scenarios</h2>\n<p class=\"note\">Detected: an alert on the user at \
         or after the scenario's start. For benign look-alikes an alert is a false alarm. Rank is \
         the user's place among all users by peak risk.</p>\n<table id=\"scenario-table\"><thead><tr>\
         <th>scenario</th><th>user</th><th>kind</th><th>start (UTC)</th><th>outcome</th>\
         <th>time to alert</th><th>rank</th><th>peak risk</th><th>what happened</th></tr></thead><tbody>\n",
    );
    for s in &e.scenarios {
        let (class, outcome) = match (s.malicious, s.detected) {
            (true, true) => ("ok", "detected"),
            (true, false) => ("bad", "missed"),
            (false, true) => ("bad", "false alarm"),
            (false, false) => ("ok", "quiet"),
        };
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{class}\">{outcome}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{:.1}</td>\
             <td class=\"desc\">{}</td></tr>",
            esc(&s.name),
            esc(&s.user),
            kind_word(s.malicious),
            s.start.as_deref().map_or_else(
                || "– (throughout)".into(),
                |t| esc(t.get(..16).unwrap_or(t)).replace('T', " ")
            ),
            s.time_to_detect_secs
                .map_or_else(|| "–".into(), human_duration),
            s.rank
                .map_or_else(|| "–".into(), |r| format!("{r} of {}", e.users)),
            s.peak_risk,
            esc(s.description.as_deref().unwrap_or("")),
        );
    }
    h.push_str("</tbody></table>\n");
    if e.families.len() < e.scenarios.len() {
        h.push_str(
            "<table id=\"family-table\"><thead><tr><th>scenario</th><th>kind</th>\
             <th>alerted</th><th>median peak risk</th></tr></thead><tbody>\n",
        );
        for f in &e.families {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{} of {}</td><td class=\"num\">{:.1}</td></tr>",
                esc(&f.name),
                kind_word(f.malicious),
                f.detected,
                f.scenarios,
                f.median_peak_risk,
            );
        }
        h.push_str("</tbody></table>\n");
    }
}

/// Users to draw: the labelled ones (labels order), then the riskiest others.
fn timeline_users(e: &Evaluation) -> Vec<usize> {
    let d = &e.detail;
    let index: std::collections::HashMap<&str, usize> = d
        .users
        .iter()
        .enumerate()
        .map(|(i, u)| (u.as_str(), i))
        .collect();
    let mut users: Vec<usize> = Vec::new();
    let mut drawn = std::collections::HashSet::new();
    for s in &e.scenarios {
        if let Some(&u) = index.get(s.user.as_str())
            && drawn.insert(u)
        {
            users.push(u);
        }
    }
    let mut by_peak: Vec<usize> = (0..d.users.len()).collect();
    by_peak.sort_by(|&a, &b| d.peaks[b].total_cmp(&d.peaks[a]).then(a.cmp(&b)));
    for u in by_peak.into_iter().take(TOP_USERS) {
        if !drawn.contains(&u) && d.peaks[u] > 0.0 {
            users.push(u);
        }
    }
    users
}

fn timelines(h: &mut String, e: &Evaluation) -> Result<(), EvalError> {
    let d = &e.detail;
    let _ = write!(
        h,
        "<h2 id=\"timelines\">Risk timelines</h2>\n<p class=\"note\">Every labelled user, then the \
         {TOP_USERS} riskiest others. Risk jumps with each finding and decays with a {}-hour \
         half-life in between.</p>\n<p class=\"legend\"><span><i style=\"background:#1f5fa8\"></i>risk</span>\
         <span><i style=\"background:#c62828\"></i>alert threshold {} (dashed); ▲ alert</span>\
         <span><i style=\"background:#e67e00\"></i>malicious scenario starts</span>\
         <span><i style=\"background:#2e8b57\"></i>benign look-alike starts</span></p>\n<div class=\"grid\">\n",
        d.half_life_hours, e.threshold
    );
    let day0 = d.span_ms.0.div_euclid(DAY_MS) * DAY_MS;
    let day1 = (d.span_ms.1.div_euclid(DAY_MS) + 1) * DAY_MS;
    let to_x = |ms: i64| (ms - day0) as f64 / DAY_MS as f64;
    let x_max = to_x(day1);
    let half_life_ms = d.half_life_hours * 3_600_000.0;
    let mut by_user: Vec<Vec<(i64, f64)>> = vec![Vec::new(); d.users.len()];
    for &(u, t, r) in &d.risk {
        by_user[u as usize].push((t, r));
    }
    let mut alerts_by_user: Vec<Vec<(i64, f64)>> = vec![Vec::new(); d.users.len()];
    for &(u, t, s) in &d.alerts {
        alerts_by_user[u as usize].push((t, s));
    }
    for u in timeline_users(e) {
        let mut points = by_user[u].clone();
        points.sort_by_key(|p| p.0);
        let curve = decay_curve(&points, day0, day1, half_life_ms);
        let starts: Vec<(f64, &str, bool)> = e
            .scenarios
            .iter()
            .filter(|s| s.user == d.users[u])
            .filter_map(|s| {
                ueba_engine::event::parse_timestamp_text(s.start.as_deref()?)
                    .ok()
                    .map(|t| (to_x(t), s.name.as_str(), s.malicious))
            })
            .collect();
        let rank = 1 + d.peaks.iter().filter(|&&p| p > d.peaks[u]).count();
        let labels: Vec<String> = e
            .scenarios
            .iter()
            .filter(|s| s.user == d.users[u])
            .map(|s| {
                let kind = kind_word(s.malicious);
                format!("{} ({kind})", s.name)
            })
            .collect();
        let caption = format!(
            "{} · {} · rank {} · peak {:.1}{}",
            d.users[u],
            d.peer_groups[u].as_deref().unwrap_or("no peer group"),
            rank,
            d.peaks[u],
            if labels.is_empty() {
                String::new()
            } else {
                format!(" · {}", labels.join(", "))
            }
        );
        let alerts = &alerts_by_user[u];
        let what = format!("risk timeline of {}", d.users[u]);
        let chart = svg(&what, (660, 210), |root| {
            let err = plot_err(&what);
            let mut c = ChartBuilder::on(root)
                .caption(&caption, (FONT, 15).into_font().color(&INK))
                .margin(8)
                .x_label_area_size(24)
                .y_label_area_size(34)
                .build_cartesian_2d(0f64..x_max, 0f64..105f64)
                .map_err(&err)?;
            c.configure_mesh()
                .light_line_style(GRID.mix(0.6))
                .bold_line_style(GRID)
                .axis_style(INK.mix(0.6))
                .x_labels(8)
                .y_labels(6)
                .x_label_formatter(&|x| day_label(day0 + (x * DAY_MS as f64) as i64))
                .y_label_formatter(&|y| format!("{y:.0}"))
                .label_style((FONT, 11).into_font().color(&INK))
                .draw()
                .map_err(&err)?;
            for &(x, _, malicious) in &starts {
                let color = if malicious { MALICIOUS } else { BENIGN };
                c.draw_series(LineSeries::new(
                    [(x, 0.0), (x, 105.0)],
                    color.stroke_width(2),
                ))
                .map_err(&err)?;
            }
            c.draw_series(DashedLineSeries::new(
                [(0.0, e.threshold), (x_max, e.threshold)],
                6,
                4,
                ALERT.stroke_width(1),
            ))
            .map_err(&err)?;
            c.draw_series(LineSeries::new(
                curve.iter().map(|&(t, r)| (to_x(t), r)),
                RISK.stroke_width(2),
            ))
            .map_err(&err)?;
            c.draw_series(
                alerts
                    .iter()
                    .map(|&(t, s)| TriangleMarker::new((to_x(t), s), 6, ALERT.filled())),
            )
            .map_err(&err)?;
            Ok(())
        })?;
        let _ = writeln!(
            h,
            "<figure class=\"plot timeline\" data-user=\"{}\">{chart}</figure>",
            esc(&d.users[u])
        );
    }
    h.push_str("</div>\n");
    Ok(())
}

/// The risk as a curve: flat at 0 before the first finding, jumping at each
/// finding and decaying with the half-life until the next, sampled hourly.
fn decay_curve(points: &[(i64, f64)], from: i64, to: i64, half_life_ms: f64) -> Vec<(i64, f64)> {
    const STEP: i64 = 3_600_000;
    let mut out = vec![(from, 0.0)];
    let (mut at, mut level) = (from, 0.0f64);
    let decayed = |level: f64, since: i64, now: i64| {
        level * 0.5f64.powf((now - since) as f64 / half_life_ms.max(1.0))
    };
    for &(t, r) in points.iter().chain(std::iter::once(&(to, f64::NAN))) {
        let mut s = at + STEP;
        while s < t && level > 0.05 {
            out.push((s, decayed(level, at, s)));
            s += STEP;
        }
        out.push((t, decayed(level, at, t)));
        if r.is_nan() {
            break;
        }
        out.push((t, r));
        at = t;
        level = r;
    }
    out
}

fn detector_section(h: &mut String, e: &Evaluation) -> Result<(), EvalError> {
    let d = &e.detail;
    h.push_str(
        "<h2 id=\"detectors\">Findings per detector</h2>\n<p class=\"note\">Findings per UTC day \
         for each detector; the orange lines mark when malicious scenarios start.</p>\n",
    );
    if d.detectors.is_empty() {
        h.push_str("<p class=\"note\">No findings.</p>\n");
        return Ok(());
    }
    let day0 = d.span_ms.0.div_euclid(DAY_MS);
    let days = (d.span_ms.1.div_euclid(DAY_MS) - day0 + 1).max(1) as usize;
    let mut counts = vec![vec![0u64; days]; d.detectors.len()];
    for &(det, t, _) in &d.findings {
        let day = (t.div_euclid(DAY_MS) - day0).clamp(0, days as i64 - 1) as usize;
        if let Some(row) = counts.get_mut(det) {
            row[day] += 1;
        }
    }
    let attack_days: Vec<f64> = e
        .scenarios
        .iter()
        .filter(|s| s.malicious)
        .filter_map(|s| ueba_engine::event::parse_timestamp_text(s.start.as_deref()?).ok())
        .map(|t| (t - day0 * DAY_MS) as f64 / DAY_MS as f64)
        .collect();
    let rows = d.detectors.len() as u32;
    let chart = svg("findings per detector", (1300, 40 + 150 * rows), |root| {
        let err = plot_err("findings per detector");
        let panels = root.split_evenly((rows as usize, 1));
        for (i, panel) in panels.iter().enumerate() {
            let max = counts[i].iter().copied().max().unwrap_or(0).max(1) as f64 * 1.1;
            let color = SERIES[i % SERIES.len()];
            let total: u64 = counts[i].iter().sum();
            let mut c = ChartBuilder::on(panel)
                .caption(
                    format!("{} — {total} findings", d.detectors[i]),
                    (FONT, 15).into_font().color(&INK),
                )
                .margin(6)
                .margin_right(24)
                .x_label_area_size(22)
                .y_label_area_size(48)
                .build_cartesian_2d(0f64..days as f64, 0f64..max)
                .map_err(&err)?;
            c.configure_mesh()
                .light_line_style(GRID.mix(0.6))
                .bold_line_style(GRID)
                .axis_style(INK.mix(0.6))
                .x_labels(days.min(16))
                .y_labels(4)
                .x_label_formatter(&|x| day_label((day0 + x.floor() as i64) * DAY_MS))
                .y_label_formatter(&|y| format!("{y:.0}"))
                .label_style((FONT, 11).into_font().color(&INK))
                .draw()
                .map_err(&err)?;
            c.draw_series(counts[i].iter().enumerate().map(|(day, &n)| {
                let x = day as f64;
                Rectangle::new(
                    [(x + 0.12, 0.0), (x + 0.88, n as f64)],
                    color.mix(0.85).filled(),
                )
            }))
            .map_err(&err)?;
            for &x in &attack_days {
                c.draw_series(LineSeries::new(
                    [(x, 0.0), (x, max)],
                    MALICIOUS.stroke_width(2),
                ))
                .map_err(&err)?;
            }
        }
        Ok(())
    })?;
    let _ = writeln!(
        h,
        "<figure class=\"plot\" id=\"findings-plot\">{chart}</figure>"
    );
    Ok(())
}

fn rules_section(h: &mut String, e: &Evaluation) -> Result<(), EvalError> {
    h.push_str(
        "<h2 id=\"rules\">ueba against the rules a SOC writes</h2>\n<p class=\"note\">Each rule flags a \
         user-day when any event that day matches it (the last three learn each user's hours, \
         resources and daily rows over the first week, and go on learning). ueba's risk cut-off is set, for each rule, \
         to the highest value that catches at least as many attack days as the rule does, so the \
         two are compared at the same recall: fewer flagged user-days and higher precision mean \
         less analyst time for the same catch.</p>\n<table id=\"rules-table\"><thead><tr><th>rule</th>\
         <th>what it flags</th><th>recall</th><th>precision</th><th>flagged user-days</th>\
         <th>ueba cut-off</th><th>ueba recall</th><th>ueba precision</th><th>ueba flagged</th></tr></thead><tbody>\n",
    );
    for r in &e.rules {
        let u = &r.ueba_at_same_recall;
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"desc\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            r.rule,
            esc(&r.description),
            pct(r.rule_result.recall),
            pct(r.rule_result.precision),
            r.rule_result.flagged,
            u.cutoff
                .map_or_else(|| "–".into(), |c| format!("risk ≥ {c:.1}")),
            pct(u.recall),
            pct(u.precision),
            u.flagged,
        );
    }
    let t = &e.ueba_at_threshold;
    let _ = writeln!(
        h,
        "<tr><td>ueba alerts</td><td class=\"desc\">user-days whose risk reaches the alert \
         threshold</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
         <td class=\"num\">risk ≥ {}</td><td colspan=\"3\" class=\"muted\">the engine as deployed</td></tr>",
        pct(t.recall),
        pct(t.precision),
        t.flagged,
        e.threshold
    );
    h.push_str("</tbody></table>\n");

    let n = e.rules.len();
    let flagged: Vec<(f64, f64)> = e
        .rules
        .iter()
        .map(|r| {
            (
                r.rule_result.flagged as f64,
                r.ueba_at_same_recall.flagged as f64,
            )
        })
        .collect();
    let precision: Vec<(f64, f64)> = e
        .rules
        .iter()
        .map(|r| {
            (
                r.rule_result.precision.unwrap_or(0.0),
                r.ueba_at_same_recall.precision.unwrap_or(0.0),
            )
        })
        .collect();
    let names: Vec<&str> = e.rules.iter().map(|r| r.rule).collect();
    let chart = svg("rules comparison", (1300, 330), |root| {
        let err = plot_err("rules comparison");
        let (left, right) = root.split_horizontally(650);
        let top = flagged.iter().map(|p| p.0.max(p.1)).fold(1.0, f64::max) * 4.0;
        let mut c = ChartBuilder::on(&left)
            .caption(
                "flagged user-days at equal recall (log scale)",
                (FONT, 15).into_font().color(&INK),
            )
            .margin(10)
            .x_label_area_size(26)
            .y_label_area_size(52)
            .build_cartesian_2d(categories(n), (0.8f64..top).log_scale())
            .map_err(&err)?
            .set_secondary_coord(-0.5f64..n as f64 - 0.5, (0.8f64..top).log_scale());
        c.configure_mesh()
            .light_line_style(GRID.mix(0.6))
            .bold_line_style(GRID)
            .axis_style(INK.mix(0.6))
            .disable_x_mesh()
            .x_label_formatter(&|x| segment_label(x, &names))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .label_style((FONT, 12).into_font().color(&INK))
            .draw()
            .map_err(&err)?;
        for (i, &(rule, ueba)) in flagged.iter().enumerate() {
            for (v, side, color) in [(rule, -1.0, RULE), (ueba, 1.0, RISK)] {
                let x = i as f64 + side * 0.17;
                c.draw_secondary_series([
                    Rectangle::new([(x - 0.14, 0.8), (x + 0.14, v.max(0.8))], color.filled())
                        .into_dyn(),
                    value_text(format!("{v:.0}"), (x, v.max(0.8) * 1.08)).into_dyn(),
                ])
                .map_err(&err)?;
            }
        }
        let mut p = ChartBuilder::on(&right)
            .caption(
                "precision at equal recall",
                (FONT, 15).into_font().color(&INK),
            )
            .margin(10)
            .x_label_area_size(26)
            .y_label_area_size(44)
            .build_cartesian_2d(categories(n), 0f64..1.12f64)
            .map_err(&err)?
            .set_secondary_coord(-0.5f64..n as f64 - 0.5, 0f64..1.12f64);
        p.configure_mesh()
            .light_line_style(GRID.mix(0.6))
            .bold_line_style(GRID)
            .axis_style(INK.mix(0.6))
            .disable_x_mesh()
            .x_label_formatter(&|x| segment_label(x, &names))
            .y_label_formatter(&|y| format!("{:.0}%", y * 100.0))
            .label_style((FONT, 12).into_font().color(&INK))
            .draw()
            .map_err(&err)?;
        for (i, &(rule, ueba)) in precision.iter().enumerate() {
            for (v, side, color) in [(rule, -1.0, RULE), (ueba, 1.0, RISK)] {
                let x = i as f64 + side * 0.17;
                p.draw_secondary_series([
                    Rectangle::new([(x - 0.14, 0.0), (x + 0.14, v)], color.filled()).into_dyn(),
                    value_text(pct_of(v), (x, v + 0.015)).into_dyn(),
                ])
                .map_err(&err)?;
            }
        }
        Ok(())
    })?;
    let _ = writeln!(
        h,
        "<figure class=\"plot\" id=\"rules-plot\">{chart}<figcaption><span style=\"color:#9e9e9e\">■</span> \
         rule &nbsp; <span style=\"color:#1f5fa8\">■</span> ueba at the rule's recall</figcaption></figure>"
    );
    Ok(())
}

/// A category axis of `n` segments, labelled at their centres.
fn categories(n: usize) -> SegmentedCoord<plotters::coord::types::RangedCoordi32> {
    (0..n.max(1) as i32 - 1).into_segmented()
}

/// The name of category `x` on a segmented axis (labels sit at centres).
fn segment_label(x: &SegmentValue<i32>, names: &[impl AsRef<str>]) -> String {
    match x {
        SegmentValue::CenterOf(i) => names
            .get(*i as usize)
            .map(|n| n.as_ref().to_string())
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// A value written centred just above `at`.
fn value_text(text: String, at: (f64, f64)) -> Text<'static, (f64, f64), String> {
    let style = TextStyle::from((FONT, 13).into_font())
        .color(&INK)
        .pos(Pos::new(HPos::Center, VPos::Bottom));
    Text::new(text, at, style)
}

fn sweep_section(h: &mut String, s: &SweepResult) -> Result<(), EvalError> {
    let _ = write!(
        h,
        "<h2 id=\"sweep\">Detection rate against attack intensity</h2>\n<p class=\"note\">{} \
         generated organisations per level ({} users × {} days, seeds {:?}), the malicious \
         scenarios at increasing strength; a scenario counts as detected when its user is alerted \
         at or after its start.</p>\n",
        s.seeds.len(),
        s.users,
        s.days,
        s.seeds
    );
    let chart = sweep_svg(s)?;
    let _ = writeln!(
        h,
        "<figure class=\"plot\" id=\"sweep-plot\">{chart}<figcaption><span style=\"color:#1f5fa8\">●</span> \
         the scenario the panel scales &nbsp; <span style=\"color:#9e9e9e\">- -</span> trend-micro, \
         never scaled (control)</figcaption></figure>"
    );
    h.push_str(
        "<table id=\"sweep-table\"><thead><tr><th>level</th><th>exfiltration ×</th><th>detected</th>\
         <th>off-hours shift</th><th>detected</th><th>novel tables</th><th>detected</th>\
         <th>trend-micro (control)</th><th>boiling-frog</th><th>false alarms per 1,000 user-days</th></tr></thead><tbody>\n",
    );
    let cell = |l: &LevelResult, k: &str| {
        l.detection
            .get(k)
            .map_or_else(|| "–".into(), |r| format!("{}/{}", r.detected, r.runs))
    };
    for l in &s.levels {
        let _ = writeln!(
            h,
            "<tr><td class=\"num\">{}</td><td class=\"num\">{}×</td><td class=\"num\">{}</td>\
             <td class=\"num\">{} h</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            l.level,
            l.exfil_factor,
            cell(l, "slow-exfiltration"),
            l.off_hours_shift_hours,
            cell(l, "off-hours"),
            l.novel_tables,
            cell(l, "novel-table"),
            cell(l, "trend-micro"),
            cell(l, "boiling-frog"),
            num(l.benign_alerts_per_1000_user_days, 2),
        );
    }
    h.push_str("</tbody></table>\n");
    for shape in &s.shapes {
        let _ = writeln!(
            h,
            "<h3>The {} shape</h3>\n<p class=\"note\">Generated once per seed at its default \
             strength, {:.1} events per user-day. Alerted: for a malicious scenario, detected; for \
             a look-alike, a false alarm. False alarms: {} per 1,000 user-days on users with no \
             malicious scenario.</p>\n<table class=\"shape-table\"><thead><tr><th>scenario</th>\
             <th>kind</th><th>alerted</th></tr></thead><tbody>",
            esc(shape.shape),
            shape.events_per_user_day,
            num(shape.benign_alerts_per_1000_user_days, 2),
        );
        for sc in &shape.scenarios {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{}/{}</td></tr>",
                esc(&sc.name),
                kind_word(sc.malicious),
                sc.alerted.detected,
                sc.alerted.runs,
            );
        }
        h.push_str("</tbody></table>\n");
    }
    Ok(())
}

/// The sweep as three panels of detection rate against each knob.
pub fn sweep_svg(s: &SweepResult) -> Result<String, EvalError> {
    type Label = fn(&LevelResult) -> String;
    let panels: [(&str, &str, Label); 3] = [
        (
            "slow exfiltration: rows × a normal day",
            "slow-exfiltration",
            |l| format!("{}×", l.exfil_factor),
        ),
        ("off-hours: hours after the shift", "off-hours", |l| {
            format!("{} h", l.off_hours_shift_hours)
        }),
        ("novel tables", "novel-table", |l| {
            l.novel_tables.to_string()
        }),
    ];
    let n = s.levels.len();
    svg("sweep", (1300, 300), |root| {
        let err = plot_err("sweep");
        let areas = root.split_evenly((1, 3));
        for (area, (title, kind, label)) in areas.iter().zip(panels) {
            let labels: Vec<String> = s.levels.iter().map(label).collect();
            let mut c = ChartBuilder::on(area)
                .caption(title, (FONT, 15).into_font().color(&INK))
                .margin(12)
                .x_label_area_size(26)
                .y_label_area_size(44)
                .build_cartesian_2d(categories(n), 0f64..1.05f64)
                .map_err(&err)?;
            c.configure_mesh()
                .light_line_style(GRID.mix(0.6))
                .bold_line_style(GRID)
                .axis_style(INK.mix(0.6))
                .disable_x_mesh()
                .x_label_formatter(&|x| segment_label(x, &labels))
                .y_label_formatter(&|y| format!("{:.0}%", y * 100.0))
                .y_desc("detected")
                .label_style((FONT, 11).into_font().color(&INK))
                .draw()
                .map_err(&err)?;
            let rate = |k: &str| -> Vec<(SegmentValue<i32>, f64)> {
                s.levels
                    .iter()
                    .enumerate()
                    .filter_map(|(i, l)| {
                        l.detection
                            .get(k)
                            .map(|r| (SegmentValue::CenterOf(i as i32), r.rate))
                    })
                    .collect()
            };
            c.draw_series(DashedLineSeries::new(
                rate("trend-micro"),
                5,
                4,
                RULE.stroke_width(2),
            ))
            .map_err(&err)?;
            let own = rate(kind);
            c.draw_series(LineSeries::new(own.clone(), RISK.stroke_width(3)))
                .map_err(&err)?;
            c.draw_series(own.into_iter().map(|p| Circle::new(p, 5, RISK.filled())))
                .map_err(&err)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::esc;

    /// A user named with a right-to-left override and a bell shows those
    /// characters as escapes on the page, and markup as text.
    #[test]
    fn names_are_escaped_for_html_and_their_hidden_characters_shown() {
        assert_eq!(
            esc("<b>\u{202e}txt.exe\u{7}'"),
            "&lt;b&gt;\\u{202e}txt.exe\\u{7}&#39;"
        );
    }
}
