//! An emulation of the v1 devices cgroup: a default action (allow or deny everything) and a set of
//! exceptions, each a (type, major, minor) with access bits.
// Ref: runc (opencontainers/cgroups) devices/devices_emulator.go.

use std::collections::BTreeMap;

use super::{DevType, Perms, Rule, RuleType};

/// The match part of a rule. Field order gives the (major, minor, type) order runc sorts by, so
/// rules are always written in the same order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Meta {
    major: i64,
    minor: i64,
    typ: DevType,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Emulator {
    /// Allow by default ("black-list"); exceptions then deny.
    default_allow: bool,
    rules: BTreeMap<Meta, Perms>,
}

const WILD: i64 = -1;

impl Emulator {
    pub(crate) fn is_blacklist(&self) -> bool {
        self.default_allow
    }

    pub(crate) fn is_allow_all(&self) -> bool {
        self.default_allow && self.rules.is_empty()
    }

    /// Applies one rule as the kernel would on v1, except that removing part of a wildcard
    /// exception is an error instead of being silently ignored.
    pub(crate) fn apply(&mut self, rule: &Rule) -> Result<(), String> {
        let RuleType::Dev(typ) = rule.typ else {
            // `a` resets everything to the rule's action.
            *self = Emulator {
                default_allow: rule.allow,
                rules: BTreeMap::new(),
            };
            return Ok(());
        };
        let meta = Meta {
            major: rule.major,
            minor: rule.minor,
            typ,
        };
        if rule.allow == self.default_allow {
            self.remove(meta, rule.perms).map_err(|e| {
                let what = if rule.allow { "allow" } else { "deny" };
                format!("cannot {what} `{}`: {e}", rule.cgroup_string())
            })
        } else {
            let old = self.rules.get(&meta).copied().unwrap_or_default();
            self.rules.insert(meta, old.union(rule.perms));
            Ok(())
        }
    }

    fn remove(&mut self, meta: Meta, perms: Perms) -> Result<(), String> {
        for partial in [
            Meta { major: WILD, ..meta },
            Meta { minor: WILD, ..meta },
            Meta {
                major: WILD,
                minor: WILD,
                ..meta
            },
        ] {
            if partial == meta {
                continue;
            }
            if let Some(p) = self.rules.get(&partial) {
                if !p.intersection(perms).is_empty() {
                    return Err(format!(
                        "the v1 devices cgroup cannot punch a hole in the wildcard rule `{}`",
                        rule_string(partial, *p)
                    ));
                }
            }
        }
        if let Some(old) = self.rules.get(&meta).copied() {
            let left = old.difference(perms);
            if left.is_empty() {
                self.rules.remove(&meta);
            } else {
                self.rules.insert(meta, left);
            }
        }
        Ok(())
    }

    /// The state a v1 `devices.list` describes. The list shows only what is allowed: `a *:* rwm`
    /// means allow-by-default, whose deny exceptions the kernel does not show.
    pub(crate) fn from_list(list: &str) -> Result<Emulator, String> {
        let mut e = Emulator::default();
        for line in list.lines().filter(|l| !l.trim().is_empty()) {
            let fields: Vec<&str> = line.split([' ', ':']).filter(|f| !f.is_empty()).collect();
            let [t, major, minor, perms] = fields[..] else {
                return Err(format!("malformed line `{line}`"));
            };
            let num = |s: &str| -> Result<i64, String> {
                if s == "*" {
                    Ok(WILD)
                } else {
                    s.parse::<u32>()
                        .map(i64::from)
                        .map_err(|_| format!("bad number in line `{line}`"))
                }
            };
            let typ = match t {
                "a" => RuleType::All,
                "b" => RuleType::Dev(DevType::Block),
                "c" => RuleType::Dev(DevType::Char),
                _ => return Err(format!("unknown device type in line `{line}`")),
            };
            let perms = Perms::parse(perms)
                .filter(|p| !p.is_empty())
                .ok_or_else(|| format!("bad access in line `{line}`"))?;
            e.apply(&Rule {
                typ,
                major: num(major)?,
                minor: num(minor)?,
                perms,
                allow: true,
            })?;
        }
        Ok(e)
    }

    /// The least disruptive rules that take a cgroup from `self` to `target`. A deny-all or
    /// allow-all reset comes first only when the default action changes, or when `self` is
    /// allow-by-default (its deny exceptions cannot be read back, so they must be reset).
    pub(crate) fn transition(&self, target: &Emulator) -> Vec<Rule> {
        let mut out = Vec::new();
        let empty = BTreeMap::new();
        let mut old = &self.rules;
        if self.is_blacklist() || self.default_allow != target.default_allow {
            out.push(Rule {
                typ: RuleType::All,
                major: WILD,
                minor: WILD,
                perms: Perms::ALL,
                allow: target.default_allow,
            });
            old = &empty;
        }
        for (meta, perms) in old {
            let dropped = perms.difference(target.rules.get(meta).copied().unwrap_or_default());
            if !dropped.is_empty() {
                out.push(rule(*meta, dropped, target.default_allow));
            }
        }
        for (meta, perms) in &target.rules {
            let gained = perms.difference(old.get(meta).copied().unwrap_or_default());
            if !gained.is_empty() {
                out.push(rule(*meta, gained, !target.default_allow));
            }
        }
        out
    }

    /// The rules that build this state from deny-all: an `a` rule first if allow-by-default, then
    /// the exceptions (all with the action opposite to the default).
    pub(crate) fn rules(&self) -> Vec<Rule> {
        Emulator::default().transition(self)
    }

    /// Whether access `want` to the device is permitted: a rule matches when its type, major and
    /// minor match (wildcards match anything) and it covers every requested access bit.
    #[cfg(test)]
    pub(crate) fn permits(&self, typ: DevType, major: u32, minor: u32, want: Perms) -> bool {
        let matched = self.rules.iter().any(|(m, p)| {
            m.typ == typ
                && (m.major == WILD || m.major == major as i64)
                && (m.minor == WILD || m.minor == minor as i64)
                && p.contains(want)
        });
        matched != self.default_allow
    }
}

fn rule(meta: Meta, perms: Perms, allow: bool) -> Rule {
    Rule {
        typ: RuleType::Dev(meta.typ),
        major: meta.major,
        minor: meta.minor,
        perms,
        allow,
    }
}

fn rule_string(meta: Meta, perms: Perms) -> String {
    rule(meta, perms, true).cgroup_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str, allow: bool) -> Rule {
        let e = Emulator::from_list(s).unwrap();
        let mut v = e.rules();
        if v.is_empty() {
            return Rule {
                typ: RuleType::All,
                major: WILD,
                minor: WILD,
                perms: Perms::ALL,
                allow,
            };
        }
        let mut x = v.pop().unwrap();
        x.allow = allow;
        x
    }

    #[test]
    fn from_list_allow_all_is_blacklist() {
        let e = Emulator::from_list("a *:* rwm\n").unwrap();
        assert!(e.is_allow_all());
        let e = Emulator::from_list("c 1:3 rwm\nc *:* m\n").unwrap();
        assert!(!e.is_blacklist());
        assert!(e.permits(DevType::Char, 1, 3, Perms::parse("rw").unwrap()));
        assert!(e.permits(DevType::Char, 9, 9, Perms::parse("m").unwrap()));
        assert!(!e.permits(DevType::Char, 9, 9, Perms::parse("r").unwrap()));
        assert!(!e.permits(DevType::Block, 1, 3, Perms::parse("r").unwrap()));
        assert!(Emulator::from_list("x 1:3 rwm").is_err());
        assert!(Emulator::from_list("c 1:3").is_err());
    }

    #[test]
    fn partial_removal_and_merge() {
        let mut e = Emulator::default();
        e.apply(&r("c 1:3 rwm", true)).unwrap();
        e.apply(&r("c 1:3 w", false)).unwrap();
        assert_eq!(
            e.rules().iter().map(|x| x.cgroup_string()).collect::<Vec<_>>(),
            ["c 1:3 rm"]
        );
        e.apply(&r("c 1:3 w", true)).unwrap();
        assert_eq!(e.rules()[0].cgroup_string(), "c 1:3 rwm");
    }

    #[test]
    fn blacklist_rules_start_with_allow_all() {
        let mut e = Emulator::default();
        e.apply(&Rule {
            typ: RuleType::All,
            major: WILD,
            minor: WILD,
            perms: Perms::ALL,
            allow: true,
        })
        .unwrap();
        e.apply(&r("b 8:0 w", false)).unwrap();
        let rules: Vec<String> = e
            .rules()
            .iter()
            .map(|x| format!("{} {}", x.allow, x.cgroup_string()))
            .collect();
        assert_eq!(rules, ["true a *:* rwm", "false b 8:0 w"]);
        assert!(!e.permits(DevType::Block, 8, 0, Perms::parse("w").unwrap()));
        assert!(e.permits(DevType::Block, 8, 0, Perms::parse("r").unwrap()));
    }

    #[test]
    fn transition_from_blacklist_resets() {
        let cur = Emulator::from_list("a *:* rwm").unwrap();
        let mut target = Emulator {
            default_allow: true,
            rules: BTreeMap::new(),
        };
        target.apply(&r("c 1:3 r", false)).unwrap();
        let t: Vec<String> = cur
            .transition(&target)
            .iter()
            .map(|x| format!("{} {}", x.allow, x.cgroup_string()))
            .collect();
        assert_eq!(t, ["true a *:* rwm", "false c 1:3 r"]);
    }

    #[test]
    fn transition_same_state_is_empty() {
        let cur = Emulator::from_list("c 1:3 rwm\nc 1:5 rwm").unwrap();
        assert!(cur.transition(&cur.clone()).is_empty());
    }
}
