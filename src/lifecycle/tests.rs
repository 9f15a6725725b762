//! The lifecycle's unit tests: the state machine without sockets.

use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};

fn ctx() -> Context {
    Context::default()
}

/// A state that counts its drops.
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A lifecycle whose initializer counts its runs (sleeping `init_ms` in each) and builds a
/// `Counted`; its pre-stop hook counts its runs too. Returns (lifecycle, init runs, hook runs,
/// drops).
#[allow(clippy::type_complexity)]
fn counted(
    init_ms: u64,
) -> (
    Arc<Lifecycle<Counted>>,
    Arc<AtomicUsize>,
    Arc<AtomicUsize>,
    Arc<AtomicUsize>,
) {
    let (runs, hooks, drops) = Default::default();
    let (r, h, d): (Arc<AtomicUsize>, Arc<AtomicUsize>, Arc<AtomicUsize>) =
        (Arc::clone(&runs), Arc::clone(&hooks), Arc::clone(&drops));
    let lc = Lifecycle::new(
        Box::new(move |_| {
            r.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(init_ms));
            Ok(Counted(d.clone()))
        }),
        Some(Box::new(move |_, _| {
            h.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })),
        None,
    );
    (Arc::new(lc), runs, hooks, drops)
}

#[test]
fn concurrent_callers_share_one_initializer_run() {
    let runs = Arc::new(AtomicUsize::new(0));
    let r = runs.clone();
    let lc = Arc::new(Lifecycle::new(
        Box::new(move |_| {
            r.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(50));
            Ok(7u32)
        }),
        None,
        None,
    ));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let lc = lc.clone();
            std::thread::spawn(move || *lc.ready(&ctx()).unwrap())
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), 7);
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[test]
fn retryable_failure_leaves_instance_uninitialized_then_succeeds() {
    let runs = AtomicUsize::new(0);
    let lc = Lifecycle::new(
        Box::new(move |_| match runs.fetch_add(1, Ordering::SeqCst) {
            0 => Err(InitError::retry(Error::msg("not yet"))),
            _ => Ok(1u8),
        }),
        None,
        None,
    );
    assert!(matches!(
        lc.ready(&ctx()),
        Err(NotReady::Init(InitError::Retry(_)))
    ));
    assert_eq!(*lc.ready(&ctx()).unwrap(), 1);
}

#[test]
fn panic_in_initializer_is_fatal_and_sticky() {
    let lc: Lifecycle<()> = Lifecycle::new(Box::new(|_| panic!("boom")), None, None);
    let Err(NotReady::Init(e)) = lc.ready(&ctx()) else {
        panic!("the panic did not fail initialization")
    };
    assert!(e.is_fatal());
    assert_eq!(e.error().error_type, "Panic");
    assert!(matches!(
        lc.ready(&ctx()),
        Err(NotReady::Init(InitError::Fatal(_)))
    ));
}

#[test]
fn stop_runs_the_hook_once_and_drops_the_state_after_it() {
    let (lc, _, hooks, drops) = counted(0);
    lc.ready(&ctx()).unwrap();
    lc.stop(&ctx(), Duration::from_secs(1)).unwrap();
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "the life's state was not dropped"
    );
    lc.stop(&ctx(), Duration::from_secs(1)).unwrap();
    assert_eq!(hooks.load(Ordering::SeqCst), 1);
}

#[test]
fn a_call_after_stop_begins_a_new_life_with_a_new_initializer_run() {
    let (lc, runs, hooks, drops) = counted(0);
    {
        let _call = lc.admit().unwrap();
        lc.ready(&ctx()).unwrap();
    }
    lc.stop(&ctx(), Duration::from_secs(1)).unwrap();
    let call = lc.admit().expect("no new life after pre-stop");
    lc.ready(&ctx()).unwrap();
    drop(call);
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "only the first life's state is gone"
    );
    lc.stop(&ctx(), Duration::from_secs(1)).unwrap();
    assert_eq!(
        (hooks.load(Ordering::SeqCst), drops.load(Ordering::SeqCst)),
        (2, 2),
        "the second life ends like the first"
    );
}

#[test]
fn concurrent_calls_after_stop_all_join_one_new_life() {
    let (lc, runs, _, _) = counted(0);
    let lives = 50;
    for _ in 0..lives {
        lc.stop(&ctx(), Duration::from_secs(1)).unwrap();
        let start = std::sync::Barrier::new(8);
        std::thread::scope(|s| {
            let calls: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        start.wait();
                        let _call = lc.admit().map_err(|_| "refused")?;
                        lc.ready(&ctx()).map(|_| ()).map_err(|_| "not ready")
                    })
                })
                .collect();
            for c in calls {
                assert_eq!(c.join().unwrap(), Ok(()));
            }
        });
    }
    assert_eq!(runs.load(Ordering::SeqCst), lives);
}

#[test]
fn calls_are_refused_while_stopping_and_for_good_after_a_signal() {
    let (lc, _, _, _) = counted(0);
    let call = lc.admit().unwrap();
    lc.ready(&ctx()).unwrap();
    std::thread::scope(|s| {
        let stop = s.spawn(|| lc.stop(&ctx(), Duration::from_secs(10)));
        while lc.admitted.load(Ordering::SeqCst) & STOPPING == 0 {
            std::thread::yield_now();
        }
        assert!(lc.admit().is_err(), "admitted during the drain");
        drop(call);
        stop.join().unwrap().unwrap();
    });
    lc.shut_down(&ctx(), Duration::from_secs(1)).unwrap();
    assert!(lc.admit().is_err(), "a new life began after a signal");
}

#[test]
fn an_initializer_run_that_outlives_its_life_publishes_nothing() {
    let (lc, runs, hooks, drops) = counted(400);
    std::thread::scope(|s| {
        let late = s.spawn(|| {
            let _call = lc.admit().unwrap();
            lc.ready(&ctx()).map(|_| ())
        });
        while runs.load(Ordering::SeqCst) == 0 {
            std::thread::yield_now();
        }
        // The drain limit passes while the initializer runs: the life ends without a hook.
        lc.stop(&ctx(), Duration::from_millis(20)).unwrap();
        assert_eq!(hooks.load(Ordering::SeqCst), 0);
        let _call = lc.admit().unwrap();
        let second = lc.ready(&ctx());
        assert!(second.is_ok(), "the new life's initializer failed");
        assert!(matches!(late.join().unwrap(), Err(NotReady::Stopped)));
    });
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "the late run's state was not dropped"
    );
}

#[test]
fn stop_before_initialization_skips_the_hook() {
    let lc: Lifecycle<()> = Lifecycle::new(
        Box::new(|_| Ok(())),
        Some(Box::new(|_, _| panic!("must not run"))),
        None,
    );
    assert!(lc.stop(&ctx(), Duration::from_millis(10)).is_ok());
}

#[test]
fn health_says_serving_until_a_fatal_failure_or_a_stop_and_again_in_the_next_life() {
    let serving = |lc: &Lifecycle<Counted>| matches!(lc.health(), Health::Serving(_));
    let (lc, _, _, _) = counted(0);
    assert!(
        matches!(lc.health(), Health::Serving(None)),
        "uninitialized"
    );
    lc.ready(&ctx()).unwrap();
    assert!(matches!(lc.health(), Health::Serving(Some(_))), "ready");
    let call = lc.admit().unwrap();
    std::thread::scope(|s| {
        let stop = s.spawn(|| lc.stop(&ctx(), Duration::from_secs(10)));
        while lc.admitted.load(Ordering::SeqCst) & STOPPING == 0 {
            std::thread::yield_now();
        }
        assert!(!serving(&lc), "while the stop drains");
        drop(call);
        stop.join().unwrap().unwrap();
    });
    assert!(serving(&lc), "after pre-stop the next call begins a life");
    lc.shut_down(&ctx(), Duration::from_secs(1)).unwrap();
    assert!(!serving(&lc), "after a signal");

    let failed: Lifecycle<()> = Lifecycle::new(
        Box::new(|_| Err(InitError::fatal(Error::msg("gone")))),
        None,
        None,
    );
    assert!(failed.ready(&ctx()).is_err());
    let Health::Down(why) = failed.health() else {
        panic!("healthy after a fatal initializer failure")
    };
    assert!(why.contains("gone"), "{why}");
}
