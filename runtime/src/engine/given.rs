//! [`Given`]: what a filter argument stands for when Pipy takes "a value, or a function that
//! returns one": a `connect` target, a compression algorithm, a quota, a sub-pipeline name.

use std::rc::Rc;

use super::{Callback, Context, Value, host};

/// A value fixed at configuration time, or a script function asked for it at traffic time.
#[derive(Clone)]
pub enum Given<T> {
    Fixed(T),
    Dynamic(Callback),
}

impl<T: Clone> Given<T> {
    /// The value now: the fixed one, or what the function returns when called with `args` in
    /// `context`, read by `read` (which says what is wrong with a value it cannot take).
    pub fn get(
        &self,
        context: &Rc<Context>,
        args: &[Value],
        read: impl FnOnce(Value) -> Result<T, String>,
    ) -> Result<T, String> {
        match self {
            Given::Fixed(v) => Ok(v.clone()),
            Given::Dynamic(f) => host().call(context, f, args).and_then(read),
        }
    }
}

impl Given<String> {
    /// The text now: a `'host:port'` target, fixed or returned by the function.
    pub fn text(&self, context: &Rc<Context>) -> Result<String, String> {
        self.get(context, &[], |v| host().to_text(&v))
    }
}

impl<T> Given<T> {
    pub fn is_fixed(&self) -> bool {
        matches!(self, Given::Fixed(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::host::stub::StubHost;

    #[test]
    fn fixed_values_are_not_read_and_functions_are() {
        StubHost::install();
        let context = Context::root();
        let fixed: Given<u32> = Given::Fixed(7);
        assert!(fixed.is_fixed());
        assert_eq!(fixed.get(&context, &[], |_| Err("not asked".into())), Ok(7));
        // The stub host answers every call with `undefined`: `read` decides what that means.
        let dynamic: Given<u32> = Given::Dynamic(StubHost::callback());
        assert!(!dynamic.is_fixed());
        assert_eq!(dynamic.get(&context, &[], |v| if v.is_undefined() { Ok(1) } else { Ok(2) }), Ok(1));
        assert_eq!(dynamic.get(&context, &[], |_| Err::<u32, _>("bad".into())), Err("bad".into()));
    }
}
