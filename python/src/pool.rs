//! The async client's native side: engine calls run on a small pool of Rust worker threads
//! with the GIL released, and complete an `asyncio.Future` on its event loop.
//!
//! Every native method that can be awaited takes `deliver=(loop, mailbox, done)`: without it
//! the call runs in the caller's thread as before; with it the call is queued here and the
//! method returns a [`Pending`] at once, and later `done(exception, value)` runs on the loop
//! (through the loop's [`Mailbox`], which hands over many results per wake-up). The
//! same `work` (engine call, no GIL) and `finish` (Python result, GIL) closures serve both, so
//! the sync and async clients convert arguments, report errors and build results identically.
//!
//! A worker never takes the GIL: it leaves the engine's answer in the mailbox and wakes the
//! loop by writing a byte to a socket the loop watches (`loop.add_reader` on
//! [`Mailbox::wake_fd`]); the loop thread, which holds the GIL anyway, builds each Python
//! result as it drains the mailbox. (When workers built the results themselves, each waited
//! for the GIL behind the loop thread, up to Python's 5 ms switch interval per hand-over: a
//! thousand concurrent queries finished no sooner than under `asyncio.to_thread`.) A loop
//! that cannot watch a socket (Windows' proactor loop) is woken with
//! `loop.call_soon_threadsafe`, which takes the GIL for that one call.
//!
//! The pool is a fixed set of std threads fed by one channel, started on the first async call
//! (importing starts no thread), so a thousand concurrent awaits use the same few threads.
//! When the engine grows its own scheduler (`engine/src/scheduler/`, issue 23), this queue can
//! move onto it: only [`submit`] knows where tasks run.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};

use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;

use crate::error::{IntoPy, to_py};

/// A queued call: the engine work and the hand-over to the loop, run on a worker thread.
type Task = Box<dyn FnOnce() + Send>;

/// `(loop, mailbox, done)`: where an async call's outcome goes; `done(exc, value)` runs on
/// the loop when it drains its [`Mailbox`].
pub(crate) type Deliver = (Py<PyAny>, Py<Mailbox>, Py<PyAny>);

/// A finished call as the loop completes it: builds the Python result and calls `done`.
type Ready = Box<dyn FnOnce(Python<'_>) + Send>;

/// One event loop's finished calls, waiting for the loop to complete them. A worker wakes the
/// loop only when the box was empty, so under load one wake-up hands over many results.
#[pyclass(frozen, module = "mnemodb._native")]
pub(crate) struct Mailbox {
    items: Mutex<Vec<Ready>>,
    /// The socket pair the loop watches (`(read end, write end)`), once
    /// [`wake_fd`](Mailbox::wake_fd) made it.
    #[cfg(unix)]
    wake: OnceLock<(
        std::os::unix::net::UnixStream,
        std::os::unix::net::UnixStream,
    )>,
    /// Whether the loop watches the socket ([`arm`](Mailbox::arm)).
    armed: AtomicBool,
}

#[pymethods]
impl Mailbox {
    #[new]
    fn new() -> Mailbox {
        Mailbox {
            items: Mutex::new(Vec::new()),
            #[cfg(unix)]
            wake: OnceLock::new(),
            armed: AtomicBool::new(false),
        }
    }

    /// Says the loop now watches [`wake_fd`](Mailbox::wake_fd): workers wake it through the
    /// socket from now on.
    fn arm(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }

    /// The file descriptor for the loop to watch (`loop.add_reader(fd, mailbox.drain)`, then
    /// [`arm`](Mailbox::arm)): readable when finished calls wait. `None` where there is none
    /// (workers then wake the loop with `call_soon_threadsafe`, as they do until armed).
    fn wake_fd(&self) -> PyResult<Option<i64>> {
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            if self.wake.get().is_none() {
                let (r, w) = std::os::unix::net::UnixStream::pair()?;
                r.set_nonblocking(true)?;
                w.set_nonblocking(true)?;
                let _ = self.wake.set((r, w));
            }
            Ok(self.wake.get().map(|(r, _)| i64::from(r.as_raw_fd())))
        }
        #[cfg(not(unix))]
        Ok(None)
    }

    /// Runs on the loop: completes every finished call, oldest first.
    fn drain(&self, py: Python<'_>) {
        #[cfg(unix)]
        if let Some((r, _)) = self.wake.get() {
            use std::io::Read;
            let mut buf = [0u8; 256];
            // Empties the socket (non-blocking: stops at WouldBlock).
            while matches!((&*r).read(&mut buf), Ok(n) if n > 0) {}
        }
        let items = std::mem::take(&mut *self.items.lock().unwrap_or_else(|e| e.into_inner()));
        for ready in items {
            ready(py);
        }
    }
}

impl Mailbox {
    /// From a worker: leaves `ready`; true when the box was empty (the loop needs waking).
    fn post(&self, ready: Ready) -> bool {
        let mut items = self.items.lock().unwrap_or_else(|e| e.into_inner());
        let wake = items.is_empty();
        items.push(ready);
        wake
    }

    /// From a worker, without the GIL: wakes the loop through its socket; false when the loop
    /// does not watch one.
    fn wake_without_gil(&self) -> bool {
        if !self.armed.load(Ordering::SeqCst) {
            return false;
        }
        #[cfg(unix)]
        if let Some((_, w)) = self.wake.get() {
            use std::io::Write;
            // A full socket already wakes the loop.
            let _ = (&*w).write(&[1]);
            return true;
        }
        false
    }
}

/// Most worker threads the pool starts: two per core, 4 to 8 (a worker that has run its engine
/// call waits for the GIL to hand the result over; meanwhile the others keep the cores busy).
const MAX_WORKERS: usize = 8;

struct Pool {
    queue: Mutex<mpsc::Sender<Task>>,
}

/// Set at interpreter exit ([`shutdown`]): workers then drop queued calls unrun.
static CLOSING: AtomicBool = AtomicBool::new(false);
/// Calls a worker has started and not finished ([`shutdown`] waits for them).
static ACTIVE: AtomicUsize = AtomicUsize::new(0);

/// The pool, started on first use; `Err` holds why no worker thread could start.
fn pool(py: Python<'_>) -> PyResult<&'static Pool> {
    static POOL: OnceLock<Result<Pool, String>> = OnceLock::new();
    let pool = POOL
        .get_or_init(|| {
            let pool = start()?;
            // A worker must not take the GIL once the interpreter finalizes (CPython ends
            // such a thread mid-call): at exit, stop starting calls and let running ones end.
            let registered = py
                .import("atexit")
                .and_then(|m| m.call_method1("register", (wrap_pyfunction!(shutdown, py)?,)));
            registered.map_err(|e| {
                format!("mnemodb could not register its async pool's exit hook: {e}")
            })?;
            Ok(pool)
        })
        .as_ref()
        .map_err(|e| PyRuntimeError::new_err(e.clone()))?;
    Ok(pool)
}

/// Runs at interpreter exit: queued async calls are dropped, running ones finish first.
#[pyfunction]
fn shutdown(py: Python<'_>) {
    CLOSING.store(true, Ordering::SeqCst);
    py.detach(|| {
        while ACTIVE.load(Ordering::SeqCst) > 0 {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    });
}

/// A started call, counted in [`ACTIVE`] until dropped; `None` once [`CLOSING`].
struct Active;

impl Active {
    fn enter() -> Option<Active> {
        // Counted before CLOSING is read, and `shutdown` sets CLOSING before reading the
        // count: either this call sees CLOSING, or `shutdown` waits for it.
        ACTIVE.fetch_add(1, Ordering::SeqCst);
        if CLOSING.load(Ordering::SeqCst) {
            ACTIVE.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(Active)
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        ACTIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

fn start() -> Result<Pool, String> {
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .saturating_mul(2)
        .clamp(4, MAX_WORKERS);
    let (tx, rx) = mpsc::channel::<Task>();
    let rx = Arc::new(Mutex::new(rx));
    let mut started = 0;
    let mut last_error = String::new();
    for i in 0..workers {
        let rx = Arc::clone(&rx);
        let spawned = std::thread::Builder::new()
            .name(format!("mnemodb-async-{i}"))
            .spawn(move || {
                loop {
                    // The lock is held only to take one task; a poisoned lock still holds a
                    // sound receiver (tasks never panic while holding it).
                    let next = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                    match next {
                        Ok(task) => task(),
                        Err(_) => return,
                    }
                }
            });
        match spawned {
            Ok(_) => started += 1,
            Err(e) => last_error = e.to_string(),
        }
    }
    if started == 0 {
        return Err(format!(
            "mnemodb could not start a worker thread for the async client: {last_error}"
        ));
    }
    Ok(Pool {
        queue: Mutex::new(tx),
    })
}

/// The handle an async call returns: `fut.add_done_callback(pending)` cancels the call if the
/// future is cancelled before a worker starts it (a started call runs to the end; its result
/// is then dropped).
#[pyclass(frozen, module = "mnemodb._native")]
pub(crate) struct Pending {
    cancelled: Arc<AtomicBool>,
}

#[pymethods]
impl Pending {
    /// Marks the call cancelled: a worker that has not started it skips it.
    fn cancel(&self) {
        self.cancelled.store(true, Ordering::Release);
    }

    /// Whether [`Pending::cancel`] was called.
    fn cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
    }

    /// The future's done callback: cancels the call when the future was cancelled.
    fn __call__(&self, future: &Bound<'_, PyAny>) -> PyResult<()> {
        if future.call_method0("cancelled")?.is_truthy()? {
            self.cancel();
        }
        Ok(())
    }
}

/// Runs `work` (engine call, GIL released) then `finish` (its Python result): here and now
/// without `deliver`, else on the pool, returning a [`Pending`].
pub(crate) fn run<T, W, F>(
    py: Python<'_>,
    deliver: Option<Deliver>,
    work: W,
    finish: F,
) -> PyResult<Py<PyAny>>
where
    T: Send + 'static,
    W: FnOnce() -> mnemodb::Result<T> + Send + 'static,
    F: for<'py> FnOnce(Python<'py>, T) -> PyResult<Bound<'py, PyAny>> + Send + 'static,
{
    run_with(py, deliver, None, move |_| work(), finish)
}

/// [`run`] for calls reading a float32 matrix: the sync path reads `data` in place, the async
/// path copies it first (the array may change once the caller's thread moves on).
pub(crate) fn run_with<T, W, F>(
    py: Python<'_>,
    deliver: Option<Deliver>,
    data: Option<&[f32]>,
    work: W,
    finish: F,
) -> PyResult<Py<PyAny>>
where
    T: Send + 'static,
    W: FnOnce(Option<&[f32]>) -> mnemodb::Result<T> + Send + 'static,
    F: for<'py> FnOnce(Python<'py>, T) -> PyResult<Bound<'py, PyAny>> + Send + 'static,
{
    match deliver {
        None => {
            let out = py.detach(|| work(data)).py_err()?;
            Ok(finish(py, out)?.unbind())
        }
        Some(deliver) => {
            let owned = data.map(<[f32]>::to_vec);
            submit(py, deliver, move || work(owned.as_deref()), finish)
        }
    }
}

/// Queues the call on the pool; the worker runs `work` unless cancelled first, then takes the
/// GIL to build the result and schedule `done(exc, value)` on the loop.
fn submit<T, W, F>(py: Python<'_>, deliver: Deliver, work: W, finish: F) -> PyResult<Py<PyAny>>
where
    T: Send + 'static,
    W: FnOnce() -> mnemodb::Result<T> + Send + 'static,
    F: for<'py> FnOnce(Python<'py>, T) -> PyResult<Bound<'py, PyAny>> + Send + 'static,
{
    let (event_loop, mailbox, done) = deliver;
    if !done.bind(py).is_callable() {
        return Err(PyTypeError::new_err(
            "deliver must be (event loop, mailbox, callable)",
        ));
    }
    let cancelled = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&cancelled);
    let task: Task = Box::new(move || {
        let Some(_active) = Active::enter() else {
            // The interpreter is exiting: its objects must not be touched, nor freed.
            std::mem::forget((event_loop, mailbox, done, finish));
            return;
        };
        if flag.load(Ordering::Acquire) {
            // Cancelled before it started: the future is already done, nothing to tell it.
            Python::attach(move |_py| drop((event_loop, mailbox, done, finish)));
            return;
        }
        let outcome = catch_unwind(AssertUnwindSafe(work));
        let mailbox_ref = mailbox.get();
        let ready: Ready = Box::new(move |py| {
            if flag.load(Ordering::Acquire) {
                return; // cancelled while running: nobody waits for the result
            }
            let result = match outcome {
                Ok(Ok(value)) => finish(py, value),
                Ok(Err(e)) => Err(to_py(e)),
                Err(_) => Err(PyRuntimeError::new_err(
                    "mnemodb: an async call panicked in the engine (a bug: please report it)",
                )),
            };
            let (exc, value) = match result {
                Ok(v) => (py.None(), v.unbind()),
                Err(e) => (e.into_value(py).into_any(), py.None()),
            };
            if let Err(e) = done.call1(py, (exc, value)) {
                e.write_unraisable(py, Some(done.bind(py)));
            }
        });
        if mailbox_ref.post(ready) && !mailbox_ref.wake_without_gil() {
            Python::attach(|py| {
                // Fails only when the loop is closed: then nobody awaits the future either.
                if let Ok(drain) = mailbox.getattr(py, "drain") {
                    let _ = event_loop.call_method1(py, "call_soon_threadsafe", (drain,));
                }
            });
        }
    });
    pool(py)?
        .queue
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .send(task)
        .map_err(|_| PyRuntimeError::new_err("mnemodb's async worker threads have stopped"))?;
    Ok(Py::new(py, Pending { cancelled })?.into_any())
}
