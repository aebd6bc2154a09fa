//! A hub (`new pipeline.Hub()`): the streams that `swap` joined to it, each hearing what
//! the others say. An event one member broadcasts is output by every other member.

use std::cell::RefCell;

use super::{Event, FilterEnv};

#[derive(Default)]
pub struct Hub {
    parties: RefCell<Vec<FilterEnv>>,
}

impl Hub {
    pub fn join(&self, party: &FilterEnv) {
        let mut parties = self.parties.borrow_mut();
        if !parties.iter().any(|p| p.same(party)) {
            parties.push(party.clone());
        }
    }

    pub fn exit(&self, party: &FilterEnv) {
        self.parties.borrow_mut().retain(|p| !p.same(party));
    }

    /// Hands `evt` to every member but `from`. Members joining or leaving meanwhile (an
    /// output that ends a stream) take effect for the next event.
    pub fn broadcast(&self, evt: &Event, from: &FilterEnv) {
        let parties: Vec<FilterEnv> = self.parties.borrow().iter().filter(|p| !p.same(from)).cloned().collect();
        parties.into_iter().for_each(|p| p.emit(evt.clone()));
    }
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use super::*;
    use crate::engine::host::stub::{self, StubHost};
    use crate::engine::{Context, Filter, FilterSpec, Output, Pipeline};

    /// A filter that joins the hub and broadcasts what it gets.
    struct Member(Rc<Hub>);

    impl FilterSpec for Member {
        fn name(&self) -> &'static str {
            "member"
        }

        fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
            self.0.join(&env);
            Box::new(Joined(self.0.clone(), env))
        }
    }

    struct Joined(Rc<Hub>, FilterEnv);

    impl Filter for Joined {
        fn process(&mut self, evt: Event, _: &mut Output<'_>) {
            self.0.broadcast(&evt, &self.1);
        }
    }

    #[test]
    fn a_broadcast_reaches_every_member_but_its_sender() {
        StubHost::install();
        let hub = Rc::new(Hub::default());
        let outs: Vec<Rc<RefCell<Vec<String>>>> = (0..3).map(|_| Rc::default()).collect();
        let pipelines: Vec<Pipeline> = outs
            .iter()
            .map(|out| {
                let sink = out.clone();
                let layout = stub::layout(vec![Box::new(Member(hub.clone()))]);
                Pipeline::new(
                    layout,
                    Context::root(),
                    Rc::new(move |e: Event| sink.borrow_mut().push(stub::describe(&e))),
                )
            })
            .collect();
        pipelines[0].input(Event::Data(bytes::Bytes::from_static(b"x")));
        let got: Vec<Vec<String>> = outs.iter().map(|o| o.borrow().clone()).collect();
        assert_eq!(got, [vec![], vec!["Data x".to_string()], vec!["Data x".to_string()]]);
    }
}
