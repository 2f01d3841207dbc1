//! PNG plots drawn by hand with the `png` crate: throughput over time and the latency
//! distribution (CDF on a logarithmic axis).
//!
//! A deliberately small renderer (lines, axes, ticks and 5x7 bitmap text) so the
//! harness needs no plotting framework and no system font libraries. It is not a
//! general charting library: two chart shapes, fixed size, fixed colours.

use std::path::Path;

use anyhow::Context;

use crate::font::{glyph, GLYPH_WIDTH};
use crate::monitor::Sample;

const WIDTH: usize = 960;
const HEIGHT: usize = 540;
const LEFT: usize = 100;
const RIGHT: usize = 30;
const TOP: usize = 60;
const BOTTOM: usize = 70;
const TEXT_SCALE: usize = 2;

type Rgb = [u8; 3];
const WHITE: Rgb = [255, 255, 255];
const BLACK: Rgb = [20, 20, 20];
const GRID: Rgb = [225, 225, 225];
const BLUE: Rgb = [31, 119, 180];
const ORANGE: Rgb = [230, 110, 20];

/// An RGB image being drawn.
struct Canvas {
    pixels: Vec<u8>,
}

impl Canvas {
    fn new() -> Canvas {
        Canvas {
            pixels: WHITE.repeat(WIDTH * HEIGHT),
        }
    }

    fn set(&mut self, x: i64, y: i64, color: Rgb) {
        if (0..WIDTH as i64).contains(&x) && (0..HEIGHT as i64).contains(&y) {
            let at = (y as usize * WIDTH + x as usize) * 3;
            self.pixels[at..at + 3].copy_from_slice(&color);
        }
    }

    /// A line `width` pixels thick (Bresenham, thickened with a square brush).
    fn line(&mut self, from: (i64, i64), to: (i64, i64), color: Rgb, width: i64) {
        let (mut x, mut y) = from;
        let dx = (to.0 - x).abs();
        let dy = -(to.1 - y).abs();
        let step_x = if x < to.0 { 1 } else { -1 };
        let step_y = if y < to.1 { 1 } else { -1 };
        let mut error = dx + dy;
        loop {
            for offset_x in 0..width {
                for offset_y in 0..width {
                    self.set(x + offset_x - width / 2, y + offset_y - width / 2, color);
                }
            }
            if (x, y) == to {
                break;
            }
            let doubled = 2 * error;
            if doubled >= dy {
                error += dy;
                x += step_x;
            }
            if doubled <= dx {
                error += dx;
                y += step_y;
            }
        }
    }

    /// Text with its top-left corner at `(x, y)`.
    fn text(&mut self, x: i64, y: i64, text: &str, color: Rgb) {
        let advance = ((GLYPH_WIDTH + 1) * TEXT_SCALE) as i64;
        for (index, c) in text.chars().enumerate() {
            let rows = glyph(c);
            for (row, bits) in rows.iter().enumerate() {
                for column in 0..GLYPH_WIDTH {
                    if bits & (0x10 >> column) != 0 {
                        for dx in 0..TEXT_SCALE {
                            for dy in 0..TEXT_SCALE {
                                self.set(
                                    x + index as i64 * advance + (column * TEXT_SCALE + dx) as i64,
                                    y + (row * TEXT_SCALE + dy) as i64,
                                    color,
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    fn text_width(text: &str) -> i64 {
        (text.chars().count() * (GLYPH_WIDTH + 1) * TEXT_SCALE) as i64
    }

    fn save(&self, path: &Path) -> anyhow::Result<()> {
        let file = std::fs::File::create(path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        let mut encoder =
            png::Encoder::new(std::io::BufWriter::new(file), WIDTH as u32, HEIGHT as u32);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder
            .write_header()
            .context("cannot write a PNG header")?;
        writer
            .write_image_data(&self.pixels)
            .with_context(|| format!("cannot write {}", path.display()))
    }
}

/// Maps data coordinates into the plot area.
struct Frame {
    x_range: (f64, f64),
    y_range: (f64, f64),
}

impl Frame {
    fn point(&self, x: f64, y: f64) -> (i64, i64) {
        let plot_width = (WIDTH - LEFT - RIGHT) as f64;
        let plot_height = (HEIGHT - TOP - BOTTOM) as f64;
        let fx = (x - self.x_range.0) / (self.x_range.1 - self.x_range.0).max(f64::MIN_POSITIVE);
        let fy = (y - self.y_range.0) / (self.y_range.1 - self.y_range.0).max(f64::MIN_POSITIVE);
        (
            LEFT as i64 + (fx.clamp(0.0, 1.0) * plot_width) as i64,
            (HEIGHT - BOTTOM) as i64 - (fy.clamp(0.0, 1.0) * plot_height) as i64,
        )
    }

    /// Axes, grid, tick labels and titles. Ticks are given in data units with labels.
    fn draw_axes(
        &self,
        canvas: &mut Canvas,
        x_ticks: &[(f64, String)],
        y_ticks: &[(f64, String)],
        labels: [&str; 3],
    ) {
        let [title, x_label, y_label] = labels;
        for (y, label) in y_ticks {
            let (_, py) = self.point(self.x_range.0, *y);
            canvas.line((LEFT as i64, py), ((WIDTH - RIGHT) as i64, py), GRID, 1);
            canvas.text(
                LEFT as i64 - 10 - Canvas::text_width(label),
                py - 7,
                label,
                BLACK,
            );
        }
        for (x, label) in x_ticks {
            let (px, _) = self.point(*x, self.y_range.0);
            canvas.line((px, TOP as i64), (px, (HEIGHT - BOTTOM) as i64), GRID, 1);
            canvas.text(
                px - Canvas::text_width(label) / 2,
                (HEIGHT - BOTTOM) as i64 + 10,
                label,
                BLACK,
            );
        }
        let bottom = (HEIGHT - BOTTOM) as i64;
        canvas.line((LEFT as i64, TOP as i64), (LEFT as i64, bottom), BLACK, 2);
        canvas.line(
            (LEFT as i64, bottom),
            ((WIDTH - RIGHT) as i64, bottom),
            BLACK,
            2,
        );
        canvas.text(LEFT as i64, 8, title, BLACK);
        canvas.text(
            (LEFT + (WIDTH - LEFT - RIGHT) / 2) as i64 - Canvas::text_width(x_label) / 2,
            (HEIGHT - 28) as i64,
            x_label,
            BLACK,
        );
        canvas.text(10, TOP as i64 - 24, y_label, BLACK);
    }
}

/// A round step giving about `count` ticks up to `max` (1, 2 or 5 times a power of ten).
fn nice_step(max: f64, count: f64) -> f64 {
    let raw = (max / count).max(f64::MIN_POSITIVE);
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|factor| factor * magnitude)
        .find(|step| *step >= raw)
        .unwrap_or(10.0 * magnitude)
}

fn rate_label(value: f64) -> String {
    if value >= 1000.0 {
        format!("{}K", value / 1000.0)
    } else {
        format!("{value}")
    }
}

/// Events accepted and deliveries arrived per second, over the run.
pub(crate) fn throughput(path: &Path, title: &str, samples: &[Sample]) -> anyhow::Result<()> {
    let mut ingest = Vec::new();
    let mut delivered = Vec::new();
    for pair in samples.windows(2) {
        let seconds = (pair[1].at_s - pair[0].at_s).max(1e-3);
        ingest.push((
            pair[1].at_s,
            (pair[1].accepted - pair[0].accepted) as f64 / seconds,
        ));
        let arrived = pair[1].delivered.saturating_sub(pair[0].delivered);
        delivered.push((pair[1].at_s, arrived as f64 / seconds));
    }
    let x_max = samples.last().map_or(1.0, |sample| sample.at_s).max(1.0);
    let y_peak = ingest
        .iter()
        .chain(&delivered)
        .map(|(_, rate)| *rate)
        .fold(1.0, f64::max);
    let y_step = nice_step(y_peak, 5.0);
    let y_max = (y_peak / y_step).ceil() * y_step;
    let frame = Frame {
        x_range: (0.0, x_max),
        y_range: (0.0, y_max),
    };
    let x_step = nice_step(x_max, 8.0);
    let x_ticks: Vec<(f64, String)> = (0..=((x_max / x_step) as usize))
        .map(|i| (i as f64 * x_step, format!("{}", i as f64 * x_step)))
        .collect();
    let y_ticks: Vec<(f64, String)> = (0..=((y_max / y_step).round() as usize))
        .map(|i| (i as f64 * y_step, rate_label(i as f64 * y_step)))
        .collect();
    let mut canvas = Canvas::new();
    frame.draw_axes(
        &mut canvas,
        &x_ticks,
        &y_ticks,
        [title, "SECONDS SINCE START", "PER SECOND"],
    );
    for (series, color) in [(&ingest, BLUE), (&delivered, ORANGE)] {
        for pair in series.windows(2) {
            canvas.line(
                frame.point(pair[0].0, pair[0].1),
                frame.point(pair[1].0, pair[1].1),
                color,
                3,
            );
        }
    }
    let legend_x = (WIDTH - RIGHT) as i64 - 330;
    canvas.line(
        (legend_x, TOP as i64 - 22),
        (legend_x + 30, TOP as i64 - 22),
        BLUE,
        3,
    );
    canvas.text(legend_x + 38, TOP as i64 - 29, "INGEST", BLACK);
    canvas.line(
        (legend_x + 140, TOP as i64 - 22),
        (legend_x + 170, TOP as i64 - 22),
        ORANGE,
        3,
    );
    canvas.text(legend_x + 178, TOP as i64 - 29, "DELIVERED", BLACK);
    canvas.save(path)
}

/// The cumulative distribution of latencies (sorted, nanoseconds) on a log axis.
pub(crate) fn latency_cdf(path: &Path, title: &str, sorted_ns: &[u64]) -> anyhow::Result<()> {
    let to_ms = |ns: u64| (ns as f64 / 1e6).max(0.01);
    let (Some(first), Some(last)) = (sorted_ns.first(), sorted_ns.last()) else {
        return Ok(());
    };
    let low = to_ms(*first).log10().floor();
    let high = to_ms(*last).log10().ceil().max(low + 1.0);
    let frame = Frame {
        x_range: (low, high),
        y_range: (0.0, 100.0),
    };
    let x_ticks: Vec<(f64, String)> = (low as i64..=high as i64)
        .map(|power| {
            let value = 10f64.powi(power as i32);
            let label = if value < 1.0 {
                format!("{value}")
            } else {
                format!("{value:.0}")
            };
            (power as f64, label)
        })
        .collect();
    let y_ticks: Vec<(f64, String)> = (0..=5)
        .map(|i| (i as f64 * 20.0, format!("{}%", i * 20)))
        .collect();
    let mut canvas = Canvas::new();
    frame.draw_axes(
        &mut canvas,
        &x_ticks,
        &y_ticks,
        [title, "LATENCY MS (LOG SCALE)", "SHARE ARRIVED"],
    );
    // At most ~2000 points: enough for a smooth line whatever the sample count.
    let stride = (sorted_ns.len() / 2000).max(1);
    let mut previous: Option<(i64, i64)> = None;
    for (index, ns) in sorted_ns
        .iter()
        .enumerate()
        .step_by(stride)
        .chain([(sorted_ns.len() - 1, last)])
    {
        let share = (index + 1) as f64 / sorted_ns.len() as f64 * 100.0;
        let point = frame.point(to_ms(*ns).log10(), share);
        if let Some(previous) = previous {
            canvas.line(previous, point, BLUE, 3);
        }
        previous = Some(point);
    }
    canvas.save(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_steps_are_round() {
        assert_eq!(nice_step(12_000.0, 5.0), 5000.0);
        assert_eq!(nice_step(60.0, 8.0), 10.0);
        assert_eq!(nice_step(0.9, 5.0), 0.2);
    }

    #[test]
    fn plots_are_written_as_png() {
        let dir = tempfile::tempdir().expect("temp dir");
        let samples: Vec<Sample> = (0..10)
            .map(|second| Sample {
                at_s: second as f64,
                accepted: second * 1000,
                delivered: second * 990,
                rss_bytes: None,
            })
            .collect();
        let throughput_path = dir.path().join("t.png");
        throughput(&throughput_path, "SATURATION", &samples).expect("throughput plot");
        let latencies: Vec<u64> = (1..=5000).map(|i| i * 1000).collect();
        let latency_path = dir.path().join("l.png");
        latency_cdf(&latency_path, "SATURATION", &latencies).expect("latency plot");
        for path in [throughput_path, latency_path] {
            let bytes = std::fs::read(path).expect("written");
            assert_eq!(&bytes[1..4], b"PNG");
        }
    }
}
