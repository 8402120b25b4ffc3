//! Restart policies and their backoff, as dockerd's restart manager decides them.
// Ref: moby restartmanager/restartmanager.go (ShouldRestart).

use std::time::Duration;

/// The first delay, and the delay after a run of at least `RESET_AFTER`.
pub const INITIAL_DELAY: Duration = Duration::from_millis(100);
pub const MAX_DELAY: Duration = Duration::from_secs(60);
pub const RESET_AFTER: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    No,
    Always,
    UnlessStopped,
    /// At most this many restarts; 0 is no limit.
    OnFailure(u32),
}

impl Policy {
    /// `no`, `always`, `unless-stopped`, `on-failure` or `on-failure:N`.
    pub fn parse(s: &str) -> Result<Policy, String> {
        Ok(match s {
            "" | "no" => Policy::No,
            "always" => Policy::Always,
            "unless-stopped" => Policy::UnlessStopped,
            "on-failure" => Policy::OnFailure(0),
            _ => match s.strip_prefix("on-failure:").map(str::parse) {
                Some(Ok(n)) => Policy::OnFailure(n),
                _ => {
                    return Err(format!(
                        "invalid restart policy `{s}`: no, always, unless-stopped or on-failure[:N]"
                    ))
                }
            },
        })
    }

    /// Whether an exit with `exit_code` is followed by a restart, after `restarts` restarts so
    /// far. An exit asked for with `stop` never is.
    pub fn should_restart(self, exit_code: i32, stopped: bool, restarts: u32) -> bool {
        if stopped {
            return false;
        }
        match self {
            Policy::No => false,
            Policy::Always | Policy::UnlessStopped => true,
            Policy::OnFailure(max) => exit_code != 0 && (max == 0 || restarts < max),
        }
    }
}

/// The delay before each restart: 100 ms, doubled at each consecutive restart up to a minute,
/// back to 100 ms after a run of 10 s or more.
#[derive(Debug, Default)]
pub struct Backoff {
    last: Option<Duration>,
}

impl Backoff {
    /// The delay before the restart that follows a run that lasted `ran`.
    pub fn next(&mut self, ran: Duration) -> Duration {
        let delay = match self.last {
            Some(d) if ran < RESET_AFTER => (d * 2).min(MAX_DELAY),
            _ => INITIAL_DELAY,
        };
        self.last = Some(delay);
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_policy_names() {
        assert_eq!(Policy::parse("no"), Ok(Policy::No));
        assert_eq!(Policy::parse(""), Ok(Policy::No));
        assert_eq!(Policy::parse("always"), Ok(Policy::Always));
        assert_eq!(Policy::parse("unless-stopped"), Ok(Policy::UnlessStopped));
        assert_eq!(Policy::parse("on-failure"), Ok(Policy::OnFailure(0)));
        assert_eq!(Policy::parse("on-failure:3"), Ok(Policy::OnFailure(3)));
        assert!(Policy::parse("on-failure:x").is_err());
        assert!(Policy::parse("on-failure:-1").is_err());
        assert!(Policy::parse("sometimes").is_err());
    }

    #[test]
    fn decides_as_dockerd() {
        assert!(!Policy::No.should_restart(1, false, 0));
        assert!(Policy::Always.should_restart(0, false, 100));
        assert!(!Policy::Always.should_restart(0, true, 0));
        assert!(Policy::UnlessStopped.should_restart(0, false, 0));
        assert!(!Policy::UnlessStopped.should_restart(1, true, 0));
        assert!(!Policy::OnFailure(0).should_restart(0, false, 0));
        assert!(Policy::OnFailure(0).should_restart(1, false, 1000));
        assert!(Policy::OnFailure(2).should_restart(137, false, 0));
        assert!(Policy::OnFailure(2).should_restart(1, false, 1));
        assert!(!Policy::OnFailure(2).should_restart(1, false, 2));
        assert!(!Policy::OnFailure(2).should_restart(1, true, 0));
    }

    #[test]
    fn backoff_doubles_caps_and_resets() {
        let quick = Duration::from_millis(5);
        let mut b = Backoff::default();
        let delays: Vec<u64> = (0..12).map(|_| b.next(quick).as_millis() as u64).collect();
        assert_eq!(
            delays,
            [100, 200, 400, 800, 1600, 3200, 6400, 12_800, 25_600, 51_200, 60_000, 60_000]
        );
        // A run of 10 s or more starts over.
        assert_eq!(b.next(Duration::from_secs(10)), INITIAL_DELAY);
        assert_eq!(b.next(Duration::from_secs(9)), Duration::from_millis(200));
        // The first restart is 100 ms however long the run was.
        assert_eq!(Backoff::default().next(Duration::from_secs(3600)), INITIAL_DELAY);
    }
}
