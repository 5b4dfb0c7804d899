//! `GET /metrics`: the engine's metrics in the Prometheus text format.
//!
//! Kinesis's CloudWatch names become Prometheus names mechanically
//! (`PutRecords.ThrottledRecords` → `riffle_stream_put_records_throttled_records_total`),
//! so each series can be found from the AWS documentation.

use std::fmt::Write;

use riffle_engine::metrics::{MetricsSnapshot, ShardMetric, StreamMetric, StreamMetrics};

/// A per-stream gauge: its name, help text, and how to read it.
type Gauge = (&'static str, &'static str, fn(&StreamMetrics) -> u64);

pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Renders every metric, grouped by family as the format requires.
pub(crate) fn render(snapshot: &MetricsSnapshot) -> String {
    let mut out = String::with_capacity(4096);
    family(
        &mut out,
        "riffle_streams",
        "gauge",
        "Streams on this server, in any state.",
    );
    sample(
        &mut out,
        "riffle_streams",
        &[],
        snapshot.streams.len() as u64,
    );
    family(
        &mut out,
        "riffle_subscriptions_active",
        "gauge",
        "SubscribeToShard subscriptions currently pushing events.",
    );
    sample(
        &mut out,
        "riffle_subscriptions_active",
        &[],
        snapshot.active_subscriptions as u64,
    );

    let streams = &snapshot.streams;
    let per_stream: [Gauge; 4] = [
        (
            "riffle_stream_open_shards",
            "Open shards (taking writes).",
            |s| s.open_shards as u64,
        ),
        (
            "riffle_stream_closed_shards",
            "Closed shards still within retention.",
            |s| s.closed_shards as u64,
        ),
        (
            "riffle_stream_consumers",
            "Registered enhanced fan-out consumers.",
            |s| s.consumers as u64,
        ),
        (
            "riffle_stream_on_demand",
            "1 if the stream is ON_DEMAND, 0 if PROVISIONED.",
            |s| u64::from(s.on_demand),
        ),
    ];
    for (name, help, value) in per_stream {
        family(&mut out, name, "gauge", help);
        for stream in streams {
            sample(
                &mut out,
                name,
                &[("stream", stream.name.as_str())],
                value(stream),
            );
        }
    }
    family(
        &mut out,
        "riffle_stream_status",
        "gauge",
        "1 for the stream's current status.",
    );
    for stream in streams {
        let labels = [
            ("stream", stream.name.as_str()),
            ("status", stream.status.as_str()),
        ];
        sample(&mut out, "riffle_stream_status", &labels, 1);
    }
    for (kind, help) in [
        (
            "splits",
            "Shards split, by SplitShard/UpdateShardCount (api) or on-demand scaling.",
        ),
        (
            "merges",
            "Shard pairs merged, by MergeShards/UpdateShardCount (api) or on-demand scaling.",
        ),
    ] {
        let name = format!("riffle_stream_shard_{kind}_total");
        family(&mut out, &name, "counter", help);
        for stream in streams {
            for count in &stream.reshards {
                let labels = [
                    ("stream", stream.name.as_str()),
                    ("trigger", count.trigger.as_str()),
                ];
                let value = if kind == "splits" {
                    count.splits
                } else {
                    count.merges
                };
                sample(&mut out, &name, &labels, value);
            }
        }
    }

    for (index, &metric) in StreamMetric::ALL.iter().enumerate() {
        let name = prometheus_name(
            "riffle_stream_",
            metric.cloudwatch_name(),
            metric.is_gauge(),
        );
        let help = format!("Kinesis stream metric {}.", metric.cloudwatch_name());
        family(&mut out, &name, kind(metric.is_gauge()), &help);
        for stream in streams {
            let (m, value) = stream.values[index];
            debug_assert_eq!(m, metric);
            sample(&mut out, &name, &[("stream", stream.name.as_str())], value);
        }
    }

    for &metric in ShardMetric::ALL {
        let series: Vec<_> = streams
            .iter()
            .flat_map(|stream| {
                stream.shards.iter().filter_map(move |shard| {
                    let value = shard.values.iter().find(|(m, _)| *m == metric)?.1;
                    Some((stream.name.as_str(), shard.id.to_string(), value))
                })
            })
            .collect();
        if series.is_empty() {
            continue;
        }
        let name = prometheus_name("riffle_shard_", metric.cloudwatch_name(), metric.is_gauge());
        let help = format!(
            "Kinesis shard-level metric {} (enabled by EnableEnhancedMonitoring).",
            metric.cloudwatch_name()
        );
        family(&mut out, &name, kind(metric.is_gauge()), &help);
        for (stream, shard, value) in &series {
            sample(
                &mut out,
                &name,
                &[("stream", stream), ("shard", shard)],
                *value,
            );
        }
    }
    out
}

fn kind(gauge: bool) -> &'static str {
    if gauge { "gauge" } else { "counter" }
}

/// `GetRecords.IteratorAgeMilliseconds` → `<prefix>get_records_iterator_age_milliseconds`,
/// with `_total` on counters.
fn prometheus_name(prefix: &str, cloudwatch: &str, gauge: bool) -> String {
    let mut name = String::from(prefix);
    let mut previous_lower = false;
    for c in cloudwatch.chars() {
        if c == '.' {
            name.push('_');
            previous_lower = false;
        } else if c.is_ascii_uppercase() {
            if previous_lower {
                name.push('_');
            }
            name.push(c.to_ascii_lowercase());
            previous_lower = false;
        } else {
            name.push(c);
            previous_lower = true;
        }
    }
    if !gauge {
        name.push_str("_total");
    }
    name
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Stream names are `[a-zA-Z0-9_.-]+` and shard ids fixed, so label values
/// never need escaping.
fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: u64) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (key, value)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{key}=\"{value}\"");
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

#[cfg(test)]
mod tests {
    use super::prometheus_name;

    #[test]
    fn cloudwatch_names_become_prometheus_names() {
        assert_eq!(
            prometheus_name("riffle_stream_", "PutRecords.ThrottledRecords", false),
            "riffle_stream_put_records_throttled_records_total"
        );
        assert_eq!(
            prometheus_name("riffle_stream_", "GetRecords.IteratorAgeMilliseconds", true),
            "riffle_stream_get_records_iterator_age_milliseconds"
        );
        assert_eq!(
            prometheus_name("riffle_shard_", "IncomingBytes", false),
            "riffle_shard_incoming_bytes_total"
        );
    }
}
