//! Charts drawn on the server as SVG: a sparkline for lists and a bar chart with a title per
//! bar for the issue page. Colours come from the stylesheet (classes), so light and dark
//! both work and the page needs no inline style.

use maud::{Markup, html};

/// A small bar sparkline of `counts` (oldest first), `label` read out to screen readers.
pub fn sparkline(counts: &[i64], label: &str) -> Markup {
    let w = 96.0;
    let h = 24.0;
    let max = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let n = counts.len().max(1) as f64;
    let bw = w / n;
    html! {
        svg.spark role="img" aria-label=(label) viewBox={ "0 0 " (w) " " (h) } width=(w) height=(h) {
            title { (label) }
            @for (i, c) in counts.iter().enumerate() {
                @if *c > 0 {
                    @let bh = ((*c as f64) / max * (h - 2.0)).max(1.5);
                    rect x=(fmt(i as f64 * bw)) y=(fmt(h - bh)) width=(fmt((bw - 1.0).max(1.0))) height=(fmt(bh)) {}
                }
            }
            line.base x1="0" y1=(h - 0.5) x2=(w) y2=(h - 0.5) {}
        }
    }
}

/// A bar chart of `bars` (label, count), oldest first, each bar titled with its label and
/// count; the largest count above it and the first and last labels under the axis, as text
/// outside the SVG (which stretches to the page's width, and would stretch text with it).
pub fn bars(bars: &[(String, i64)], label: &str) -> Markup {
    let w = 600.0;
    let h = 120.0;
    let max = bars.iter().map(|b| b.1).max().unwrap_or(0).max(1) as f64;
    let n = bars.len().max(1) as f64;
    let bw = w / n;
    html! {
        figure.chart {
            p.max aria-hidden="true" { "max " (max as i64) }
            svg role="img" aria-label=(label) viewBox={ "0 0 " (w) " " (h) } preserveAspectRatio="none" {
                title { (label) }
                @for (i, (name, c)) in bars.iter().enumerate() {
                    @let bh = if *c > 0 { ((*c as f64) / max * (h - 4.0)).max(2.0) } else { 0.0 };
                    g {
                        title { (name) ": " (c) }
                        rect.hit x=(fmt(i as f64 * bw)) y="0" width=(fmt(bw)) height=(h) {}
                        @if *c > 0 {
                            rect x=(fmt(i as f64 * bw + 1.0)) y=(fmt(h - bh)) width=(fmt((bw - 2.0).max(1.0))) height=(fmt(bh)) {}
                        }
                    }
                }
                line.base x1="0" y1=(h - 0.5) x2=(w) y2=(h - 0.5) {}
            }
            @if let (Some(first), Some(last)) = (bars.first(), bars.last()) {
                p.axis aria-hidden="true" { span { (first.0) } span { (last.0) } }
            }
        }
    }
}

fn fmt(x: f64) -> String {
    format!("{x:.1}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sparkline_draws_one_bar_per_busy_bucket() {
        let svg = sparkline(&[0, 3, 0, 6], "events").into_string();
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(svg.contains("height=\"22.0\""), "{svg}");
    }
}
