//! Durations and container states in the words dockerd prints (`docker ps`'s STATUS column).
// Ref: docker/go-units duration.go HumanDuration; moby container/state.go State.String,
// container/health.go Health.String.

/// Go's `units.HumanDuration`: an approximation of `nanos` in words (`Less than a second`,
/// `3 minutes`, `About an hour`, `2 days`...). Negative durations read as less than a second.
pub fn human_duration(nanos: i64) -> String {
    const SECOND: f64 = 1e9;
    let d = nanos as f64;
    // Go converts with int(), which truncates toward zero.
    let seconds = (d / SECOND) as i64;
    if seconds < 1 {
        return "Less than a second".into();
    }
    if seconds == 1 {
        return "1 second".into();
    }
    if seconds < 60 {
        return format!("{seconds} seconds");
    }
    let minutes = (d / (60.0 * SECOND)) as i64;
    if minutes == 1 {
        return "About a minute".into();
    }
    if minutes < 60 {
        return format!("{minutes} minutes");
    }
    let exact_hours = d / (3600.0 * SECOND);
    let hours = (exact_hours + 0.5) as i64;
    if hours == 1 {
        "About an hour".into()
    } else if hours < 48 {
        format!("{hours} hours")
    } else if hours < 24 * 7 * 2 {
        format!("{} days", hours / 24)
    } else if hours < 24 * 30 * 2 {
        format!("{} weeks", hours / 24 / 7)
    } else if hours < 24 * 365 * 2 {
        format!("{} months", hours / 24 / 30)
    } else {
        format!("{} years", exact_hours as i64 / 24 / 365)
    }
}

/// What [`status_string`] needs to know of a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusInput<'a> {
    /// Docker's state name: `created`, `running`, `paused`, `restarting`, `removing`, `exited`
    /// or `dead`. `paused` and `restarting` are running states, as in dockerd (whose `Running`
    /// stays true while paused or between restarts).
    pub status: &'a str,
    /// The last exit code (shown by `Exited` and `Restarting`).
    pub exit_code: i64,
    /// Unix nanoseconds of the last start; 0 = never started.
    pub started_at: i64,
    /// Unix nanoseconds of the last exit; 0 = never exited.
    pub finished_at: i64,
    /// Unix nanoseconds of now.
    pub now: i64,
    /// The health status of a container with a health check: `starting`, `healthy` or
    /// `unhealthy`; `None` (or `none`) without one.
    pub health: Option<&'a str>,
}

/// The `Status` text of `GET /containers/json` for a container: `Created`, `Up 3 seconds`,
/// `Up 3 seconds (Paused)`, `Up 2 minutes (healthy)`, `Up 1 second (health: starting)`,
/// `Restarting (1) 2 seconds ago`, `Exited (0) 2 minutes ago`, `Removal In Progress`, `Dead`,
/// or the empty string for a container that started and neither runs nor has exited.
pub fn status_string(s: &StatusInput) -> String {
    let up = || format!("Up {}", human_duration(s.now - s.started_at));
    match s.status {
        "paused" => format!("{} (Paused)", up()),
        "restarting" => format!(
            "Restarting ({}) {} ago",
            s.exit_code,
            human_duration(s.now - s.finished_at)
        ),
        "running" => match s.health {
            Some("starting") => format!("{} (health: starting)", up()),
            Some(h) if !h.is_empty() && h != "none" => format!("{} ({h})", up()),
            _ => up(),
        },
        "removing" => "Removal In Progress".into(),
        "dead" => "Dead".into(),
        _ if s.started_at == 0 => "Created".into(),
        _ if s.finished_at == 0 => String::new(),
        _ => format!(
            "Exited ({}) {} ago",
            s.exit_code,
            human_duration(s.now - s.finished_at)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;
    const MIN: i64 = 60 * S;
    const HOUR: i64 = 60 * MIN;
    const DAY: i64 = 24 * HOUR;

    #[test]
    fn human_durations_as_go_units() {
        // The table of go-units' duration_test.go, and its boundaries.
        let table: &[(i64, &str)] = &[
            (-S, "Less than a second"),
            (0, "Less than a second"),
            (999_999_999, "Less than a second"),
            (S, "1 second"),
            (2 * S, "2 seconds"),
            (59 * S + 999_999_999, "59 seconds"),
            (MIN, "About a minute"),
            (MIN + 59 * S, "About a minute"),
            (2 * MIN, "2 minutes"),
            (3 * MIN, "3 minutes"),
            (59 * MIN + 59 * S, "59 minutes"),
            (HOUR, "About an hour"),
            (HOUR + 29 * MIN, "About an hour"),
            (HOUR + 30 * MIN, "2 hours"),
            (2 * HOUR, "2 hours"),
            (47 * HOUR + 29 * MIN, "47 hours"),
            (47 * HOUR + 30 * MIN, "2 days"),
            (2 * DAY, "2 days"),
            (13 * DAY + 23 * HOUR, "13 days"),
            (14 * DAY, "2 weeks"),
            (3 * 7 * DAY, "3 weeks"),
            (59 * DAY, "8 weeks"),
            (60 * DAY, "2 months"),
            (4 * 30 * DAY, "4 months"),
            (364 * DAY, "12 months"),
            (365 * 2 * DAY - HOUR, "24 months"),
            (365 * 2 * DAY, "2 years"),
            (365 * 3 * DAY, "3 years"),
            (365 * 10 * DAY + 5 * DAY, "10 years"),
        ];
        for &(d, want) in table {
            assert_eq!(human_duration(d), want, "{d} ns");
        }
    }

    fn status(status: &str, started: i64, finished: i64, health: Option<&str>) -> String {
        let now = 1_700_000_000 * S;
        status_string(&StatusInput {
            status,
            exit_code: if status == "restarting" { 1 } else { 0 },
            started_at: if started == 0 { 0 } else { now - started },
            finished_at: if finished == 0 { 0 } else { now - finished },
            now,
            health,
        })
    }

    #[test]
    fn every_status_string() {
        assert_eq!(status("created", 0, 0, None), "Created");
        assert_eq!(status("running", 3 * S, 0, None), "Up 3 seconds");
        assert_eq!(status("running", 1, 0, None), "Up Less than a second");
        assert_eq!(status("paused", 3 * S, 0, None), "Up 3 seconds (Paused)");
        assert_eq!(
            status("running", 2 * MIN, 0, Some("healthy")),
            "Up 2 minutes (healthy)"
        );
        assert_eq!(
            status("running", 2 * MIN, 0, Some("unhealthy")),
            "Up 2 minutes (unhealthy)"
        );
        assert_eq!(
            status("running", S, 0, Some("starting")),
            "Up 1 second (health: starting)"
        );
        assert_eq!(status("running", HOUR, 0, Some("none")), "Up About an hour");
        assert_eq!(
            status("restarting", 10 * S, 2 * S, None),
            "Restarting (1) 2 seconds ago"
        );
        let exited = StatusInput {
            status: "exited",
            exit_code: 137,
            started_at: 10 * MIN,
            finished_at: 10 * MIN + 3 * S,
            now: 12 * MIN + 3 * S,
            health: Some("healthy"),
        };
        assert_eq!(status_string(&exited), "Exited (137) 2 minutes ago");
        assert_eq!(
            status("exited", 5 * MIN, 2 * MIN, None),
            "Exited (0) 2 minutes ago"
        );
        // Exited without ever starting (a failed start) still reads as created, as in dockerd.
        assert_eq!(status("exited", 0, 2 * MIN, None), "Created");
        assert_eq!(status("exited", 5 * MIN, 0, None), "");
        assert_eq!(status("removing", 5 * MIN, 2 * MIN, None), "Removal In Progress");
        assert_eq!(status("dead", 5 * MIN, 2 * MIN, None), "Dead");
    }
}
