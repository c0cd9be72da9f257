//! A license expression as a small tree (pure): built from manifest fields and license files,
//! printed as SPDX, read out in plain English, and classified by the family that bites.
//!
//! Owns "what does this side of the change say, in one line". The `spdx` crate parses manifest
//! values; this tree adds what upkeep infers from texts (a commercial alternative, a Commons Clause
//! rider, an added exception), which SPDX spells as `LicenseRef-` and `AdditionRef-` ids.

use serde::{Deserialize, Serialize};

use super::family::{self, Classified};
use super::identify;

/// An SPDX license expression.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Expr {
    /// `MIT`, `LicenseRef-Comfy-Commercial`.
    Id(String),
    /// `GPL-3.0-or-later WITH Classpath-exception-2.0` (or an `AdditionRef-`).
    With(String, String),
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

impl Expr {
    /// Parses an SPDX expression (as canonicalised by `identify::parse_expression`).
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let parsed = spdx::Expression::parse_mode(text, spdx::ParseMode::LAX).ok()?;
        let mut stack: Vec<Self> = Vec::new();
        for node in parsed.iter() {
            match node {
                spdx::expression::ExprNode::Req(req) => {
                    let id = identify::item_id(&req.req.license);
                    stack.push(match &req.req.addition {
                        Some(add) => Self::With(id, add.to_string()),
                        None => Self::Id(id),
                    });
                }
                spdx::expression::ExprNode::Op(op) => {
                    let b = stack.pop()?;
                    let a = stack.pop()?;
                    stack.push(match op {
                        spdx::expression::Operator::And => Self::and(vec![a, b]),
                        spdx::expression::Operator::Or => Self::or(vec![a, b]),
                    });
                }
            }
        }
        (stack.len() == 1).then(|| stack.pop()).flatten()
    }

    /// `a AND b AND ...`, flattened, duplicates dropped; one operand is itself.
    #[must_use]
    pub fn and(items: Vec<Self>) -> Self {
        Self::join(items, true)
    }

    /// `a OR b OR ...`, flattened, duplicates dropped; one operand is itself.
    #[must_use]
    pub fn or(items: Vec<Self>) -> Self {
        Self::join(items, false)
    }

    fn join(items: Vec<Self>, and: bool) -> Self {
        let mut flat: Vec<Self> = Vec::new();
        for item in items {
            let parts = match item {
                Self::And(v) if and => v,
                Self::Or(v) if !and => v,
                other => vec![other],
            };
            for p in parts {
                if !flat.contains(&p) {
                    flat.push(p);
                }
            }
        }
        match flat.len() {
            1 => flat.pop().expect("one item"),
            _ if and => Self::And(flat),
            _ => Self::Or(flat),
        }
    }

    /// Every id named (`WITH` additions not included), in order.
    #[must_use]
    pub fn ids(&self) -> Vec<&str> {
        match self {
            Self::Id(id) | Self::With(id, _) => vec![id.as_str()],
            Self::And(v) | Self::Or(v) => v.iter().flat_map(Self::ids).collect(),
        }
    }

    /// True when some id satisfies `pred`.
    pub fn any_id(&self, pred: &dyn Fn(&str) -> bool) -> bool {
        self.ids().into_iter().any(pred)
    }

    /// The family that bites: for `AND` the most restrictive part; for `OR` the least
    /// restrictive option that needs no agreement with the licensor (a commercial alternative is
    /// not an option one can just take).
    #[must_use]
    pub fn biting(&self) -> Classified {
        match self {
            Self::Id(id) | Self::With(id, _) => family::classify(id),
            Self::And(v) => v
                .iter()
                .map(Self::biting)
                .max_by_key(|c| c.family)
                .unwrap_or_else(|| family::classify("")),
            Self::Or(v) => {
                let all: Vec<Classified> = v.iter().map(Self::biting).collect();
                let open = all
                    .iter()
                    .filter(|c| !is_commercial_ref(&c.id))
                    .min_by_key(|c| c.family)
                    .cloned();
                open.or_else(|| all.into_iter().min_by_key(|c| c.family))
                    .unwrap_or_else(|| family::classify(""))
            }
        }
    }

    /// Plain-English reading: "dual-licensed: AGPL-3.0-or-later, or a commercial license from
    /// the licensor — see the non-standard text".
    #[must_use]
    pub fn reading(&self) -> String {
        match self {
            Self::Id(id) => read_id(id),
            Self::With(id, add) if add.starts_with("AdditionRef-") => format!(
                "{id} with an added exception from the licensor ({}) — see the non-standard text",
                ref_holder(add).unwrap_or("unnamed")
            ),
            Self::With(id, add) => format!("{id} with the {add}"),
            Self::Or(v) => {
                let (commercial, open): (Vec<&Self>, Vec<&Self>) = v
                    .iter()
                    .partition(|e| matches!(e, Self::Id(id) if is_commercial_ref(id)));
                let options: Vec<String> = open.iter().map(|e| e.nested()).collect();
                if let Some(Self::Id(c)) = commercial.first() {
                    let from = ref_holder(c).map_or_else(
                        || "the licensor".to_owned(),
                        |h| format!("the licensor ({h})"),
                    );
                    format!(
                        "dual-licensed: {}, or a commercial license from {from} — see the non-standard text",
                        options.join(", or ")
                    )
                } else {
                    format!("a choice of {}", options.join(" or "))
                }
            }
            Self::And(v) => {
                let (clause, rest): (Vec<&Self>, Vec<&Self>) = v
                    .iter()
                    .partition(|e| matches!(e, Self::Id(id) if is_commons_clause(id)));
                let parts: Vec<String> = rest.iter().map(|e| e.nested()).collect();
                if clause.is_empty() {
                    format!("all of {}", parts.join(" and "))
                } else {
                    format!(
                        "{} with the Commons Clause: selling the software, or a service whose value derives from it, is not permitted",
                        parts.join(" and ")
                    )
                }
            }
        }
    }

    /// The reading of a part inside a larger expression (ids stay ids).
    fn nested(&self) -> String {
        match self {
            Self::Id(id) => id.clone(),
            Self::With(id, add) => format!("{id} WITH {add}"),
            other => format!("({})", other.reading()),
        }
    }
}

impl std::fmt::Display for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let part = |e: &Self, parent_and: bool| match e {
            Self::Or(_) if parent_and => format!("({e})"),
            Self::And(_) if !parent_and => e.to_string(),
            other => other.to_string(),
        };
        match self {
            Self::Id(id) => f.write_str(id),
            Self::With(id, add) => write!(f, "{id} WITH {add}"),
            Self::And(v) => f.write_str(
                &v.iter()
                    .map(|e| part(e, true))
                    .collect::<Vec<_>>()
                    .join(" AND "),
            ),
            Self::Or(v) => f.write_str(
                &v.iter()
                    .map(|e| part(e, false))
                    .collect::<Vec<_>>()
                    .join(" OR "),
            ),
        }
    }
}

fn read_id(id: &str) -> String {
    if is_commercial_ref(id) {
        let from = ref_holder(id).map_or_else(
            || "the licensor".to_owned(),
            |h| format!("the licensor ({h})"),
        );
        format!("a commercial license from {from}")
    } else if id.starts_with("LicenseRef-") && id.ends_with("-Custom") {
        "a license text that is not on the SPDX list — see the non-standard text".to_owned()
    } else {
        id.to_owned()
    }
}

/// `LicenseRef-<Holder>-Commercial`.
#[must_use]
pub fn is_commercial_ref(id: &str) -> bool {
    id.starts_with("LicenseRef-") && id.ends_with("-Commercial")
}

/// `LicenseRef-Commons-Clause`.
#[must_use]
pub fn is_commons_clause(id: &str) -> bool {
    id == COMMONS_CLAUSE
}

/// The id upkeep gives a Commons Clause rider.
pub const COMMONS_CLAUSE: &str = "LicenseRef-Commons-Clause";

/// The holder part of `LicenseRef-Comfy-Commercial` / `AdditionRef-Comfy-exception`.
fn ref_holder(id: &str) -> Option<&str> {
    let rest = id
        .strip_prefix("LicenseRef-")
        .or_else(|| id.strip_prefix("AdditionRef-"))?;
    let holder = rest
        .strip_suffix("-Commercial")
        .or_else(|| rest.strip_suffix("-exception"))
        .or_else(|| rest.strip_suffix("-Custom"))?;
    (!holder.is_empty()).then_some(holder)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::license::family::Family;

    #[test]
    fn parses_prints_and_reads() {
        let e = Expr::parse("AGPL-3.0-or-later OR LicenseRef-Comfy-Commercial").expect("parses");
        assert_eq!(
            e.to_string(),
            "AGPL-3.0-or-later OR LicenseRef-Comfy-Commercial"
        );
        assert_eq!(
            e.reading(),
            "dual-licensed: AGPL-3.0-or-later, or a commercial license from the licensor (Comfy) — see the non-standard text"
        );
        assert_eq!(
            e.biting().family,
            Family::NetworkCopyleft,
            "the open option bites"
        );
        let cc = Expr::and(vec![
            Expr::Id("Apache-2.0".into()),
            Expr::Id(COMMONS_CLAUSE.into()),
        ]);
        assert_eq!(cc.to_string(), "Apache-2.0 AND LicenseRef-Commons-Clause");
        assert!(
            cc.reading()
                .starts_with("Apache-2.0 with the Commons Clause"),
            "{}",
            cc.reading()
        );
        assert_eq!(cc.biting().family, Family::SourceAvailable);
        let mixed = Expr::and(vec![
            Expr::parse("MIT OR Apache-2.0").expect("parses"),
            Expr::Id("BSD-3-Clause".into()),
        ]);
        assert_eq!(mixed.to_string(), "(MIT OR Apache-2.0) AND BSD-3-Clause");
        assert_eq!(
            Expr::parse("MIT OR Apache-2.0").expect("parses").reading(),
            "a choice of MIT or Apache-2.0"
        );
        let with = Expr::parse("GPL-2.0-only WITH Classpath-exception-2.0").expect("parses");
        assert_eq!(
            with,
            Expr::With("GPL-2.0-only".into(), "Classpath-exception-2.0".into())
        );
        assert_eq!(
            Expr::or(vec![Expr::Id("MIT".into()), Expr::Id("MIT".into())]),
            Expr::Id("MIT".into())
        );
    }
}
