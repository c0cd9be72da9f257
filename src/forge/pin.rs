//! Pin-file editors (temporary minimal version; the full one is being written).

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PinFormat {
    AzurePipelines,
    Lockfile,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Pin {
    pub git_ref: String,
    pub commit: Option<String>,
}

pub struct PinTarget<'a> {
    pub upstream: &'a str,
    pub entry: Option<&'a str>,
}

#[derive(Debug, thiserror::Error)]
pub enum PinError {
    #[error("{0}")]
    Invalid(String),
}

pub fn read_pin(_format: PinFormat, content: &[u8], _target: &PinTarget) -> Result<Pin, PinError> {
    let text = std::str::from_utf8(content).map_err(|_| PinError::Invalid("not UTF-8".into()))?;
    let mut pin = Pin {
        git_ref: String::new(),
        commit: None,
    };
    for line in text.lines() {
        if let Some(v) = line.trim().strip_prefix("ref:") {
            pin.git_ref = v.split('#').next().unwrap_or("").trim().to_string();
        }
        if let Some(v) = line.trim().strip_prefix("ref =") {
            pin.git_ref = v.trim().trim_matches('"').to_string();
        }
    }
    if pin.git_ref.is_empty() {
        return Err(PinError::Invalid("no ref".into()));
    }
    Ok(pin)
}

pub fn write_pin(
    _format: PinFormat,
    content: &[u8],
    _target: &PinTarget,
    pin: &Pin,
) -> Result<Vec<u8>, PinError> {
    let text = std::str::from_utf8(content).map_err(|_| PinError::Invalid("not UTF-8".into()))?;
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        if line.trim().starts_with("ref:") {
            let indent = &line[..line.len() - line.trim_start().len()];
            out.push_str(&format!("{indent}ref: {}\n", pin.git_ref));
        } else {
            out.push_str(line);
        }
    }
    Ok(out.into_bytes())
}

pub fn new_lockfile(upstream: &str, pin: &Pin) -> Vec<u8> {
    format!(
        "upstream = \"{upstream}\"\nref = \"{}\"\ncommit = \"{}\"\n",
        pin.git_ref,
        pin.commit.clone().unwrap_or_default()
    )
    .into_bytes()
}
