//! `STUN`: Pipy's STUN codec (`codec::stun`). `encode({ type: 'BindingRequest',
//! transactionId })` gives the 20 bytes of a Binding Request; `decode(data)` gives `{ type,
//! transactionId, mappedAddress? }` with `mappedAddress` as `{ ip, port, family }`. What is
//! wrong throws Pipy's message for it.

use boa_engine::object::{JsObject, ObjectInitializer};
use boa_engine::property::Attribute;
use boa_engine::{Context, JsNativeError, JsResult, JsString, JsValue, NativeFunction, js_string};

use super::data::Data;
use crate::codec::stun;

pub fn register(ctx: &mut Context) -> JsResult<()> {
    let namespace = ObjectInitializer::new(ctx)
        .function(NativeFunction::from_fn_ptr(encode), js_string!("encode"), 1)
        .function(NativeFunction::from_fn_ptr(decode), js_string!("decode"), 1)
        .build();
    ctx.register_global_property(js_string!("STUN"), namespace, Attribute::WRITABLE | Attribute::CONFIGURABLE)?;
    Ok(())
}

fn error(message: &str) -> boa_engine::JsError {
    JsNativeError::error().with_message(message.to_string()).into()
}

fn encode(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let Some(msg) = args.first().and_then(|v| v.as_object()) else {
        return Err(error("STUN.encode: argument must be an object"));
    };
    let kind = msg.get(js_string!("type"), ctx)?;
    let Some(kind) = kind.as_string() else { return Err(error("STUN encode: type must be a string")) };
    if kind.to_std_string_escaped() != "BindingRequest" {
        return Err(error("STUN encode: only BindingRequest is supported"));
    }
    let tid = msg.get(js_string!("transactionId"), ctx)?;
    let Some(tid) = Data::bytes_of(&tid) else { return Err(error("STUN encode: transactionId must be Data")) };
    let tid: [u8; 12] = tid[..].try_into().map_err(|_| error("STUN encode: transactionId must be 12 bytes"))?;
    Data::to_js(stun::encode_binding_request(&tid).to_vec(), ctx)
}

fn decode(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let Some(bytes) = args.first().and_then(Data::bytes_of) else {
        return Err(error("STUN.decode: argument must be Data"));
    };
    let msg = stun::decode(&bytes).map_err(error)?;
    let obj = JsObject::with_object_proto(ctx.intrinsics());
    let kind =
        if msg.kind == stun::BINDING_REQUEST { js_string!("BindingRequest") } else { js_string!("BindingResponse") };
    obj.set(js_string!("type"), kind, false, ctx)?;
    let tid = Data::to_js(msg.transaction_id.to_vec(), ctx)?;
    obj.set(js_string!("transactionId"), tid, false, ctx)?;
    if let Some(m) = msg.mapped {
        let addr = JsObject::with_object_proto(ctx.intrinsics());
        addr.set(js_string!("ip"), JsString::from(m.ip.as_str()), false, ctx)?;
        addr.set(js_string!("port"), m.port, false, ctx)?;
        addr.set(js_string!("family"), JsString::from(m.family), false, ctx)?;
        obj.set(js_string!("mappedAddress"), addr, false, ctx)?;
    }
    Ok(obj.into())
}

#[cfg(test)]
mod tests {
    use super::super::eval_to_string;

    #[test]
    fn encodes_a_request_that_decodes_back_and_names_what_is_wrong() {
        let src = "var tid = new Data([1,2,3,4,5,6,7,8,9,10,11,12]);
            var req = STUN.encode({ type: 'BindingRequest', transactionId: tid });
            var m = STUN.decode(req);
            var errs = [{ type: 'x', transactionId: tid }, { type: 'BindingRequest', transactionId: new Data([1]) }, { type: 1 }]
                .map(o => { try { STUN.encode(o) } catch (e) { return e.message } });
            [req.toString('hex'), m.type, m.transactionId.toString('hex'), 'mappedAddress' in m].concat(errs).join('|')";
        assert_eq!(
            eval_to_string(src),
            "000100002112a4420102030405060708090a0b0c|BindingRequest|0102030405060708090a0b0c|false|\
             STUN encode: only BindingRequest is supported|STUN encode: transactionId must be 12 bytes|\
             STUN encode: type must be a string"
        );
    }

    #[test]
    fn decodes_a_response_with_its_mapped_address() {
        let src = "var r = STUN.decode(new Data('01010008' + '2112a442' + '0102030405060708090a0b0c' + '00200008' + '0001a147e112a643', 'hex'));
            [r.type, r.mappedAddress.ip, r.mappedAddress.port, r.mappedAddress.family, Object.keys(r).join()].join('|')";
        assert_eq!(eval_to_string(src), "BindingResponse|192.0.2.1|32853|IPv4|type,transactionId,mappedAddress");
    }
}
