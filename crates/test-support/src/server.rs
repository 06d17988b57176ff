//! A service serving on a task of its own until a test stops it, as the
//! service's binary serves until SIGTERM.

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A served service. [`Served::stop`] stops it as SIGTERM would; dropping
/// it (a failing test) aborts it.
#[derive(Debug)]
pub struct Served<E: Debug + Send + 'static> {
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), E>>>,
}

/// Resolves when the test stops the service: the shutdown signal to hand
/// to an `Application::run_until_stopped`.
#[derive(Debug)]
pub struct Stopped(oneshot::Receiver<()>);

impl Future for Stopped {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // A dropped sender (the test gone) stops the service too.
        Pin::new(&mut self.0).poll(cx).map(|_| ())
    }
}

impl<E: Debug + Send + 'static> Served<E> {
    /// Spawns `serve(stopped)`, typically
    /// `|stopped| application.run_until_stopped(stopped)`.
    pub fn spawn<F>(serve: impl FnOnce(Stopped) -> F) -> Self
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
    {
        let (shutdown, stopped) = oneshot::channel();
        Served {
            shutdown: Some(shutdown),
            task: Some(tokio::spawn(serve(Stopped(stopped)))),
        }
    }

    /// Signals the service to stop and waits for it to finish, failing the
    /// test if it panicked or ended with an error.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            task.await
                .expect("the service's task")
                .expect("the service stops cleanly");
        }
    }
}

impl<E: Debug + Send + 'static> Drop for Served<E> {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
