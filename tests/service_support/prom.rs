//! A strict parser of the Prometheus text exposition format (0.0.4), enough to reject anything
//! a scraper could choke on: families declared before their samples and kept together, valid
//! names and escapes, no duplicate series, cumulative histograms whose +Inf bucket is the count.

use std::collections::{BTreeMap, HashMap, HashSet};

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

#[derive(Debug, Default)]
pub struct Exposition {
    pub types: HashMap<String, String>,
    pub samples: Vec<Sample>,
}

fn valid_metric_name(n: &str) -> bool {
    let mut chars = n.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn valid_label_name(n: &str) -> bool {
    let mut chars = n.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn parse_value(v: &str) -> Result<f64, String> {
    match v {
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => v
            .parse::<f64>()
            .map_err(|e| format!("bad value `{v}`: {e}")),
    }
}

/// Parse `name{a="b",c="d"} value [timestamp]`.
fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line
        .find(['{', ' '])
        .ok_or_else(|| format!("no value in `{line}`"))?;
    let name = &line[..name_end];
    if !valid_metric_name(name) {
        return Err(format!("bad metric name `{name}`"));
    }
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(after) = rest.strip_prefix('{') {
        let mut chars = after.char_indices().peekable();
        let consumed;
        loop {
            // label name
            let start = match chars.peek() {
                Some((_, '}')) => {
                    let (i, _) = chars.next().unwrap();
                    consumed = Some(i + 1);
                    break;
                }
                Some((i, _)) => *i,
                None => return Err(format!("unterminated labels in `{line}`")),
            };
            let mut eq = None;
            for (i, c) in chars.by_ref() {
                if c == '=' {
                    eq = Some(i);
                    break;
                }
            }
            let eq = eq.ok_or_else(|| format!("label without `=` in `{line}`"))?;
            let lname = &after[start..eq];
            if !valid_label_name(lname) {
                return Err(format!("bad label name `{lname}` in `{line}`"));
            }
            if chars.next().map(|(_, c)| c) != Some('"') {
                return Err(format!("label value not quoted in `{line}`"));
            }
            let mut value = String::new();
            loop {
                match chars.next() {
                    Some((_, '\\')) => match chars.next() {
                        Some((_, '\\')) => value.push('\\'),
                        Some((_, '"')) => value.push('"'),
                        Some((_, 'n')) => value.push('\n'),
                        other => return Err(format!("bad escape {other:?} in `{line}`")),
                    },
                    Some((_, '"')) => break,
                    Some((_, '\n')) => return Err("raw newline in a label value".into()),
                    Some((_, c)) => value.push(c),
                    None => return Err(format!("unterminated label value in `{line}`")),
                }
            }
            if labels.insert(lname.to_string(), value).is_some() {
                return Err(format!("label `{lname}` twice in `{line}`"));
            }
            match chars.next() {
                Some((_, ',')) => {}
                Some((i, '}')) => {
                    consumed = Some(i + 1);
                    break;
                }
                other => return Err(format!("unexpected {other:?} after a label in `{line}`")),
            }
        }
        rest = &after[consumed.unwrap_or(after.len())..];
    }
    let rest = rest
        .strip_prefix(' ')
        .ok_or_else(|| format!("no space before the value in `{line}`"))?;
    let mut parts = rest.split(' ');
    let value = parse_value(parts.next().unwrap_or_default())?;
    if let Some(ts) = parts.next() {
        ts.parse::<i64>()
            .map_err(|_| format!("bad timestamp `{ts}` in `{line}`"))?;
    }
    if parts.next().is_some() {
        return Err(format!("trailing text in `{line}`"));
    }
    Ok(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// The family a sample belongs to, given the declared types.
fn family_of<'a>(name: &'a str, types: &HashMap<String, String>) -> Option<&'a str> {
    if types.contains_key(name) {
        return Some(name);
    }
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix)
            && let Some(kind) = types.get(base)
            && (kind == "histogram" || (kind == "summary" && suffix != "_bucket"))
        {
            return Some(base);
        }
    }
    None
}

pub fn parse(text: &str) -> Result<Exposition, String> {
    if !text.ends_with('\n') {
        return Err("the exposition does not end with a newline".into());
    }
    let mut exp = Exposition::default();
    let mut helped = HashSet::new();
    let mut finished_families: HashSet<String> = HashSet::new();
    let mut current: Option<String> = None;
    let mut series = HashSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, _) = rest.split_once(' ').unwrap_or((rest, ""));
            if !valid_metric_name(name) || !helped.insert(name.to_string()) {
                return Err(format!("bad or repeated HELP: `{line}`"));
            }
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest
                .split_once(' ')
                .ok_or_else(|| format!("TYPE without a type: `{line}`"))?;
            if !valid_metric_name(name) {
                return Err(format!("bad metric name in `{line}`"));
            }
            if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                return Err(format!("unknown type in `{line}`"));
            }
            if exp
                .types
                .insert(name.to_string(), kind.to_string())
                .is_some()
            {
                return Err(format!("TYPE of {name} declared twice"));
            }
            if let Some(prev) = current.take() {
                finished_families.insert(prev);
            }
            current = Some(name.to_string());
        } else if line.starts_with('#') || line.trim().is_empty() {
            return Err(format!("unexpected line `{line}`"));
        } else {
            let sample = parse_sample(line)?;
            let family = family_of(&sample.name, &exp.types)
                .ok_or_else(|| format!("sample `{}` has no TYPE declared before it", sample.name))?
                .to_string();
            if current.as_deref() != Some(family.as_str()) {
                return Err(format!(
                    "sample `{}` is not next to the other samples of {family}",
                    sample.name
                ));
            }
            if finished_families.contains(&family) {
                return Err(format!("family {family} split in two"));
            }
            let key = format!("{}{:?}", sample.name, sample.labels);
            if !series.insert(key.clone()) {
                return Err(format!("duplicate series {key}"));
            }
            if exp.types[&family] == "counter" && (sample.value.is_nan() || sample.value < 0.0) {
                return Err(format!("negative counter {key}"));
            }
            exp.samples.push(sample);
        }
    }
    check_histograms(&exp)?;
    Ok(exp)
}

fn check_histograms(exp: &Exposition) -> Result<(), String> {
    for (family, kind) in &exp.types {
        if kind != "histogram" {
            continue;
        }
        // Buckets per label set without `le`.
        let mut buckets: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
        let mut counts: BTreeMap<String, f64> = BTreeMap::new();
        for s in &exp.samples {
            let mut labels = s.labels.clone();
            let le = labels.remove("le");
            let key = format!("{labels:?}");
            if s.name == format!("{family}_bucket") {
                let le = le.ok_or_else(|| format!("{family}_bucket without le"))?;
                buckets
                    .entry(key)
                    .or_default()
                    .push((parse_value(&le)?, s.value));
            } else if s.name == format!("{family}_count") {
                counts.insert(key, s.value);
            }
        }
        for (key, bs) in &buckets {
            for w in bs.windows(2) {
                if w[0].0 >= w[1].0 || w[0].1 > w[1].1 {
                    return Err(format!("{family}{key}: buckets not increasing/cumulative"));
                }
            }
            let last = bs.last().ok_or("empty histogram")?;
            if last.0 != f64::INFINITY {
                return Err(format!("{family}{key}: no +Inf bucket"));
            }
            if counts.get(key) != Some(&last.1) {
                return Err(format!("{family}{key}: +Inf bucket is not the count"));
            }
        }
    }
    Ok(())
}

impl Exposition {
    /// Sum of the samples named `name` whose labels include every pair of `labels`.
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|s| s.name == name)
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|s| s.value)
            .sum()
    }

    pub fn has(&self, name: &str) -> bool {
        self.samples.iter().any(|s| s.name == name)
    }
}

#[test]
fn the_parser_rejects_what_scrapers_reject() {
    let good = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"q\\\"\\\\\"} 1\n";
    let e = parse(good).unwrap();
    assert_eq!(e.samples[0].labels["x"], "q\"\\");
    for bad in [
        "a_total 1\n",                                    // no TYPE
        "# TYPE a_total counter\na_total{x=\"1\"} 1",     // no final newline
        "# TYPE a_total counter\na_total{x=1} 1\n",       // unquoted
        "# TYPE a_total counter\na_total 1\na_total 2\n", // duplicate series
        "# TYPE a_total counter\na_total -1\n",           // negative counter
        "# TYPE a counter\n# TYPE b gauge\nb 1\na 1\n",   // sample away from its family
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_count 1\nh_sum 0\n",
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_count 1\nh_sum 0\n", // no +Inf
        "# TYPE a_total counter\na_total{x=\"\\t\"} 1\n",                 // bad escape
    ] {
        assert!(parse(bad).is_err(), "accepted: {bad:?}");
    }
}
