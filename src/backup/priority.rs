//! Backups run behind the server's requests: the thread that makes one
//! lowers its own CPU and disk priority first, so a busy server keeps
//! answering at its usual speed and the backup takes the time left over.
//! A backup that takes longer is fine; readers waiting on it are not.

/// How much a backup yields: CPU nice 10 (about a tenth of a core's share
/// when the server is busy) and the lowest best-effort disk priority.
const NICE: i32 = 10;
const IO_LEVEL: i32 = 7;

/// Lowers the calling thread's priority (on Linux, nice and I/O priority
/// are per thread; threads it spawns inherit them). Elsewhere it does
/// nothing. Failing to lower it is logged, not fatal: the backup is still
/// worth making.
pub fn lower_this_thread() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid, setpriority and ioprio_set take plain integers and
        // only change this thread's scheduling.
        let tid = unsafe { libc::syscall(libc::SYS_gettid) } as libc::id_t;
        let nice = unsafe { libc::setpriority(libc::PRIO_PROCESS, tid, NICE) };
        // ioprio_set(IOPRIO_WHO_PROCESS = 1, tid, class BE (2) << 13 | level)
        let io = unsafe { libc::syscall(libc::SYS_ioprio_set, 1, tid, (2 << 13) | IO_LEVEL) };
        if nice != 0 || io != 0 {
            tracing::warn!(
                error = %std::io::Error::last_os_error(),
                "could not lower the backup's priority; it runs at normal priority"
            );
        }
    }
}

/// Runs `work` on a thread of its own at backup priority and waits for it
/// without holding an async worker (the runtime's blocking pool would hand
/// the lowered priority on to unrelated work afterwards).
pub async fn run_in_background<T: Send + 'static>(
    name: &str,
    work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            lower_this_thread();
            let _ = tx.send(work());
        })?;
    rx.await
        .map_err(|_| anyhow::anyhow!("the {name} thread stopped without an answer"))?
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_work_runs_at_a_lower_priority_and_the_caller_does_not() {
        let before = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
        let inside = run_in_background("priority-test", || {
            Ok(unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) })
        })
        .await
        .expect("ran");
        assert_eq!(inside, (before + NICE).min(19));
        assert_eq!(unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) }, before);
    }

    #[tokio::test]
    async fn an_error_comes_back_to_the_caller() {
        let err = run_in_background::<()>("priority-test", || anyhow::bail!("disk on fire"))
            .await
            .expect_err("fails");
        assert!(err.to_string().contains("disk on fire"));
    }
}
