//! `{{name}}`: flags a user doing something they almost never do.
//!
//! A starting point written by `ueba plugin new`. It flags an action (for
//! example `copy`, `drop` or `grant`) that is rare in the user's own history,
//! and shows the parts every detector has: configuration, a learning period,
//! per-user state in a bounded table, a calibrated score and evidence.
//! Replace the model with yours; keep the shape.
//!
//! # Model
//!
//! For each user the detector counts events per action. After the learning
//! period, an event whose action the user has done `k` times out of `n`
//! events is scored with `p = (k + pseudocount) / (n + 1)`: the chance,
//! under the user's own history, that their next event is this action.
//! `score_from_p(p)` puts it on the shared 0-100 scale (p = 1e-3 scores 30),
//! so a weight on this detector means the same as on any other.
//!
//! # Memory
//!
//! Per user about 40 bytes plus 8 bytes per distinct action, at most
//! [`MAX_ACTIONS_PER_USER`]; further new actions are neither counted nor
//! scored.

use serde::{Deserialize, Serialize};
use ueba_sdk::table::Table;
use ueba_sdk::{
    ConfigError, ConfigKey, DAY_MS, Detector, Event, Finding, Info, Symbols, config, score_from_p,
};

/// Distinct actions counted per user; bounds memory whatever the input.
pub const MAX_ACTIONS_PER_USER: usize = 64;

/// The operator's settings (`[detectors.{{name}}]` in ueba.toml); part of the
/// snapshot, so a restored instance keeps them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Days of event time, from the first event seen, that only learn.
    pub learning_days: u32,
    /// Findings scoring below this are dropped as noise.
    pub min_score: f32,
    /// What an action never seen counts as in the user's history.
    pub pseudocount: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            learning_days: 1,
            min_score: 20.0,
            pseudocount: 0.2,
        }
    }
}

/// What is kept per user.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct User {
    events: u64,
    /// (action id, count), sorted by action id.
    actions: Vec<(u32, u64)>,
}

/// The detector. Its serde form is its snapshot: everything that changes
/// future findings is a field here.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct {{type_name}} {
    settings: Settings,
    first_ms: Option<i64>,
    users: Table<User>,
}

impl {{type_name}} {
    /// Whether `time_ms` is still inside the learning period.
    fn learning(&mut self, time_ms: i64) -> bool {
        let first = *self.first_ms.get_or_insert(time_ms);
        let span = i64::from(self.settings.learning_days).saturating_mul(DAY_MS);
        time_ms < first.saturating_add(span)
    }

    fn observe_one(&mut self, symbols: &Symbols, e: &Event, out: &mut Vec<Finding>) {
        let learning = self.learning(e.time_ms);
        let pseudocount = self.settings.pseudocount;
        let min_score = self.settings.min_score;
        let user = self.users.get_or_insert_with(e.user, User::default);
        let slot = user.actions.binary_search_by_key(&e.action, |&(a, _)| a);
        let seen = slot.map_or(0, |i| user.actions[i].1);
        if !learning {
            let p = (seen as f64 + pseudocount) / (user.events as f64 + 1.0);
            let score = score_from_p(p);
            if score >= min_score {
                let action = symbols.action(e.action);
                out.push(
                    Finding::new(
                        e.seq,
                        score,
                        format!(
                            "{action} on {}; {seen} of this user's {} earlier events were {action}",
                            symbols.resource(e.resource),
                            user.events
                        ),
                    )
                    .with("action", action)
                    .with("action_count", seen)
                    .with("user_events", user.events)
                    .with("p", p),
                );
            }
        }
        // While the host holds this user's alert episode open, score but do
        // not learn: an ongoing attack must not become the new normal.
        if !e.learn {
            return;
        }
        user.events = user.events.saturating_add(1);
        match slot {
            Ok(i) => user.actions[i].1 = user.actions[i].1.saturating_add(1),
            Err(i) if user.actions.len() < MAX_ACTIONS_PER_USER => {
                user.actions.insert(i, (e.action, 1))
            }
            Err(_) => {}
        }
    }
}

impl Detector for {{type_name}} {
    fn info() -> Info {
        Info {
            name: "{{name}}",
            version: env!("CARGO_PKG_VERSION"),
            description: "an action that is rare in the user's own history",
            config: vec![
                ConfigKey {
                    name: "learning_days",
                    default: "1",
                    description: "days of event time, from the first event seen, that only learn (no findings)",
                },
                ConfigKey {
                    name: "min_score",
                    default: "20.0",
                    description: "findings scoring below this (0-100) are dropped as noise",
                },
                ConfigKey {
                    name: "pseudocount",
                    default: "0.2",
                    description: "what an action the user never did counts as; smaller makes a first time rarer",
                },
            ],
        }
    }

    fn configure(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        match key {
            "learning_days" => self.settings.learning_days = config::parse(key, value)?,
            "min_score" => {
                self.settings.min_score = config::parse_in_range(key, value, 0.0, 100.0)? as f32
            }
            "pseudocount" => {
                self.settings.pseudocount = config::parse_in_range(key, value, 1e-3, 10.0)?
            }
            _ => return Err(ConfigError::UnknownKey(key.to_string())),
        }
        Ok(())
    }

    fn observe(&mut self, symbols: &Symbols, events: &[Event], out: &mut Vec<Finding>) {
        for e in events {
            self.observe_one(symbols, e, out);
        }
    }
}

ueba_sdk::export_detector!({{type_name}});

#[cfg(test)]
mod tests {
    use super::*;
    use ueba_sdk::{HOUR_MS, Runtime, SymbolKind};

    /// 2026-01-05T00:00Z, a Monday.
    const T0: i64 = 1_767_571_200_000;
    const SELECT: u32 = 0;
    const COPY: u32 = 1;

    fn runtime() -> Runtime<{{type_name}}> {
        let mut rt = Runtime::<{{type_name}}>::default();
        let s = rt.symbols_mut();
        s.insert(SymbolKind::User, 0, "alice");
        s.insert(SymbolKind::Action, SELECT, "select");
        s.insert(SymbolKind::Action, COPY, "copy");
        s.insert(SymbolKind::Resource, 0, "support.customers");
        rt
    }

    fn ev(seq: u64, hours: i64, action: u32) -> Event {
        Event {
            seq,
            time_ms: T0 + hours * HOUR_MS,
            action,
            ..Event::default()
        }
    }

    /// Three days of hourly selects, so the learning day is over.
    fn history() -> Vec<Event> {
        (0..72).map(|h| ev(h as u64, h, SELECT)).collect()
    }

    #[test]
    fn a_rare_action_after_learning_is_flagged_with_its_numbers() {
        let mut rt = runtime();
        assert!(rt.observe(&history()).is_empty(), "selects are usual");
        let found = rt.observe(&[ev(100, 73, COPY)]);
        assert_eq!(found.len(), 1);
        let f = &found[0];
        assert_eq!(f.event, 100);
        // p = 0.2 / 73: a first copy after 72 selects scores about 25.6.
        assert!((f.score - 25.6).abs() < 0.1, "score {}", f.score);
        assert!(
            f.reason.starts_with("copy on support.customers"),
            "{}",
            f.reason
        );
    }

    #[test]
    fn nothing_is_flagged_while_learning() {
        let mut rt = runtime();
        let mut events: Vec<Event> = (0..20).map(|h| ev(h as u64, h, SELECT)).collect();
        events.push(ev(20, 21, COPY));
        assert!(rt.observe(&events).is_empty());
    }

    #[test]
    fn snapshot_and_restore_give_the_same_findings() {
        let mut a = runtime();
        a.configure([("min_score", "10")]).unwrap();
        a.observe(&history());
        // The host configures a restored instance as the one it replaces:
        // configuration is not taken from the snapshot.
        let mut b = Runtime::<{{type_name}}>::default();
        b.configure([("min_score", "10")]).unwrap();
        b.restore(&a.snapshot()).unwrap();
        let next = [ev(200, 80, COPY), ev(201, 81, COPY)];
        assert_eq!(a.observe(&next), b.observe(&next));
    }

    #[test]
    fn bad_configuration_names_the_key() {
        let mut rt = runtime();
        assert_eq!(
            rt.configure([("learnig_days", "3")]),
            Err(ConfigError::UnknownKey("learnig_days".into()))
        );
        let err = rt.configure([("min_score", "500")]).unwrap_err();
        assert!(err.to_string().contains("min_score"), "{err}");
    }
}
