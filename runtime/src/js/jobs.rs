//! Boa's job queue, asked only when something is in it.
//!
//! Every call into a script is followed by running the promise jobs it queued. Boa's own
//! executor does that through a small async runtime and reads the clock each time, which
//! costs about as much as a short callback; most callbacks queue nothing. This executor
//! remembers whether anything was queued since the last run and skips the run otherwise.

use std::cell::Cell;
use std::rc::Rc;

use boa_engine::job::{Job, JobExecutor, SimpleJobExecutor};
use boa_engine::{Context, JsResult};

#[derive(Default)]
pub struct Jobs {
    inner: Rc<SimpleJobExecutor>,
    /// A job was queued since the last run.
    queued: Cell<bool>,
    /// A timer job was ever queued: those wait for their time in the queue, so from then on
    /// every run looks at the queue.
    timers: Cell<bool>,
}

impl JobExecutor for Jobs {
    fn enqueue_job(self: Rc<Self>, job: Job, ctx: &mut Context) {
        if matches!(job, Job::TimeoutJob(_) | Job::IntervalJob(_)) {
            self.timers.set(true);
        }
        self.queued.set(true);
        self.inner.clone().enqueue_job(job, ctx);
    }

    fn run_jobs(self: Rc<Self>, ctx: &mut Context) -> JsResult<()> {
        if !self.queued.replace(false) && !self.timers.get() {
            return Ok(());
        }
        self.inner.clone().run_jobs(ctx)
    }
}

#[cfg(test)]
mod tests {
    use boa_engine::Source;

    #[test]
    fn promise_jobs_still_run() {
        let mut ctx = super::super::new_context().unwrap();
        ctx.eval(Source::from_bytes("var done = 0; Promise.resolve(1).then(v => done = v + 1)")).unwrap();
        ctx.run_jobs().unwrap();
        assert_eq!(ctx.eval(Source::from_bytes("done")).unwrap().as_number(), Some(2.0));
        // Jobs queued by a job run in the same pass.
        ctx.eval(Source::from_bytes("Promise.resolve().then(() => Promise.resolve(5)).then(v => done = v)")).unwrap();
        ctx.run_jobs().unwrap();
        assert_eq!(ctx.eval(Source::from_bytes("done")).unwrap().as_number(), Some(5.0));
        ctx.run_jobs().unwrap();
    }
}
