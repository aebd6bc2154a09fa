//! The resource objects the balancers hand out.

use std::cell::RefCell;
use std::rc::Rc;

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::property::Attribute;
use boa_engine::{Context, Finalize, JsData, JsObject, JsResult, JsValue, NativeFunction, Trace, js_string};

use super::load_balancer::LbState;
use super::method;
use crate::js::type_error;

/// What `next()`/`borrow()` and `allocate()` return: `id`/`target` name the target;
/// `free()` gives a `LoadBalancer` allocation back.
#[derive(Trace, Finalize, JsData)]
pub struct Resource {
    target: JsValue,
    #[unsafe_ignore_trace]
    slot: Option<(Rc<RefCell<LbState>>, usize, u64)>,
}

impl Class for Resource {
    const NAME: &'static str = "LoadBalancerResource";

    fn data_constructor(_: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<Self> {
        Err(type_error("resources are made by load balancers"))
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        let realm = class.context().realm().clone();
        let target = NativeFunction::from_fn_ptr(|this, _, _| {
            Ok(this
                .as_object()
                .and_then(|o| o.downcast_ref::<Resource>().map(|r| r.target.clone()))
                .unwrap_or_default())
        })
        .to_js_function(&realm);
        class.accessor(js_string!("id"), Some(target.clone()), None, Attribute::CONFIGURABLE);
        class.accessor(js_string!("target"), Some(target), None, Attribute::CONFIGURABLE);
        method(
            class,
            "free",
            0,
            NativeFunction::from_fn_ptr(|this, _, _| {
                let slot = this.as_object().and_then(|o| o.downcast_ref::<Resource>().and_then(|r| r.slot.clone()));
                if let Some((lb, pool, id)) = slot {
                    lb.borrow_mut().free(pool, id);
                }
                Ok(JsValue::undefined())
            }),
        );
        Ok(())
    }
}

pub(super) fn new_resource(
    target: JsValue,
    slot: Option<(Rc<RefCell<LbState>>, usize, u64)>,
    ctx: &mut Context,
) -> JsResult<JsObject> {
    Resource::from_data(Resource { target, slot }, ctx)
}
