//! Readings of a process from Linux's `/proc`: its CPU time, each thread's CPU time, and its
//! resident memory now and at its peak.

use std::collections::HashMap;

use anyhow::Context;

/// The process a reading is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Process {
    /// The benchmark's own process (Cairn running in it).
    This,
    /// Another process, by its id (a `cairn` or the reference server started beside).
    Id(u32),
}

/// A thread's name and its user + system CPU time in seconds, by thread id.
pub type ThreadTimes = HashMap<u32, (String, f64)>;

impl Process {
    fn dir(self) -> String {
        match self {
            Self::This => "/proc/self".to_owned(),
            Self::Id(pid) => format!("/proc/{pid}"),
        }
    }

    /// The process's user + system CPU time, in seconds.
    pub fn cpu_seconds(self) -> anyhow::Result<f64> {
        Ok(stat_cpu_seconds(&std::fs::read_to_string(format!(
            "{}/stat",
            self.dir()
        ))?))
    }

    /// Each of the process's threads, by thread id: its name and its user + system CPU time, in
    /// seconds.
    pub fn thread_cpu_seconds(self) -> anyhow::Result<ThreadTimes> {
        let mut threads = HashMap::new();
        for entry in std::fs::read_dir(format!("{}/task", self.dir()))? {
            let entry = entry?;
            let Some(tid) = entry.file_name().to_str().and_then(|t| t.parse().ok()) else {
                continue;
            };
            // A thread that ended between the listing and the read is not counted.
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            let name = stat
                .split_once('(')
                .and_then(|(_, rest)| rest.rsplit_once(')'))
                .map(|(name, _)| name.to_owned())
                .unwrap_or_default();
            threads.insert(tid, (name, stat_cpu_seconds(&stat)));
        }
        Ok(threads)
    }

    /// The process's resident memory now (VmRSS), in KiB.
    pub fn resident_kib(self) -> anyhow::Result<u64> {
        self.status_kib("VmRSS:")
    }

    /// The process's peak resident memory (VmHWM), in KiB: since it started, or since
    /// [`Process::reset_peak`].
    pub fn peak_resident_kib(self) -> anyhow::Result<u64> {
        self.status_kib("VmHWM:")
    }

    /// Reset the peak resident memory to what is resident now (Linux `clear_refs`), so that a
    /// phase's own peak can be read at its end; whether it was reset.
    pub fn reset_peak(self) -> bool {
        std::fs::write(format!("{}/clear_refs", self.dir()), "5").is_ok()
    }

    fn status_kib(self, field: &str) -> anyhow::Result<u64> {
        let path = format!("{}/status", self.dir());
        let status = std::fs::read_to_string(&path)?;
        status
            .lines()
            .find_map(|line| line.strip_prefix(field))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
            .with_context(|| format!("no {field} in {path}"))
    }
}

/// The thread that used the most CPU between two readings, and its share of a core over
/// `elapsed` seconds.
pub fn busiest_thread(before: &ThreadTimes, after: &ThreadTimes, elapsed: f64) -> (String, f64) {
    after
        .iter()
        .map(|(tid, (name, seconds))| {
            let earlier = before.get(tid).map_or(0.0, |(_, seconds)| *seconds);
            (name.clone(), (seconds - earlier) / elapsed)
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap_or_default()
}

/// User + system CPU time, in seconds, from a `/proc/…/stat` line.
fn stat_cpu_seconds(stat: &str) -> f64 {
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the name.
    (ticks(11) + ticks(12)) / clock_ticks_per_second()
}

fn clock_ticks_per_second() -> f64 {
    // The kernel's USER_HZ, 100 on every Linux this runs on; `getconf CLK_TCK` says so. Asked
    // once: the threads' times are read one after another.
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(100.0)
    })
}
