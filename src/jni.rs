//! The JNI fast path: `dev.sockstatlog.FastCounters`' native methods, for
//! hosts that push counters so often that a UniFFI/JNA call (microseconds:
//! a handle clone, a status struct, reflection-driven marshalling) matters.
//! A JNI call with primitive arguments costs tens of nanoseconds.
//!
//! The handle is `SockstatLogger.fastCountersHandle()`: an opaque number
//! looked up in a process-wide table (`crate::fast_handles`), never
//! dereferenced. A number that is not a live handle (never issued, forged,
//! off by one, or of a logger that was shut down or freed) makes every call
//! return `false` before anything else is looked at; no value can crash the
//! process. With a live handle, a label above 255, a negative byte count or
//! arrays of different lengths throw `IllegalArgumentException`; nothing
//! unwinds into the JVM (`with_env` catches panics and the policy turns them
//! into a `RuntimeException`).

use crate::counters::Counters;
use crate::fast_handles::TABLE;
use ::jni::errors::ThrowRuntimeExAndDefault;
use ::jni::objects::{JClass, JIntArray, JLongArray};
use ::jni::strings::JNIString;
use ::jni::sys::{jboolean, jint, jlong};
use ::jni::{jni_str, Env, EnvUnowned};

/// Bulk pushes of up to this many elements are copied out of the Java arrays
/// onto the stack (3 × 256 × 8 bytes); larger ones into one heap copy, since
/// every element must be read exactly once (see `add_many`).
const CHUNK: usize = 256;

/// A bad argument from Kotlin, thrown as `IllegalArgumentException`.
#[derive(Debug)]
struct Invalid(String);

/// Either a bad argument or a JNI failure inside the closure.
enum Failure {
    Invalid(Invalid),
    Jni(::jni::errors::Error),
}

impl From<::jni::errors::Error> for Failure {
    fn from(e: ::jni::errors::Error) -> Self {
        Failure::Jni(e)
    }
}

impl From<Invalid> for Failure {
    fn from(e: Invalid) -> Self {
        Failure::Invalid(e)
    }
}

/// Runs `f` with panics caught; throws `IllegalArgumentException` for
/// [`Invalid`], a `RuntimeException` for JNI errors and panics.
fn guarded<'l, F>(env: &mut EnvUnowned<'l>, f: F) -> jboolean
where
    F: FnOnce(&mut Env<'l>) -> Result<bool, Failure>,
{
    env.with_env(|env| -> Result<bool, ::jni::errors::Error> {
        match f(env) {
            Ok(applied) => Ok(applied),
            Err(Failure::Invalid(Invalid(msg))) => {
                env.throw_new(jni_str!("java/lang/IllegalArgumentException"), JNIString::new(msg))?;
                Ok(false)
            }
            Err(Failure::Jni(e)) => Err(e),
        }
    })
    .resolve::<ThrowRuntimeExAndDefault>()
}

fn label(label: jint) -> Result<u8, Invalid> {
    u8::try_from(label).map_err(|_| Invalid(format!("FastCounters: label {label} is not in 0..=255")))
}

fn bytes(what: &str, n: jlong) -> Result<u64, Invalid> {
    u64::try_from(n).map_err(|_| Invalid(format!("FastCounters: {what} {n} is negative")))
}

/// The single-push fast path: plain checks and two atomic adds. The JNI
/// environment is touched only to throw, because entering it (`with_env`:
/// a thread-local guard level and a `GetJavaVM`) costs more than the push.
fn push_one(
    env: &mut EnvUnowned<'_>,
    apply: fn(&Counters, u8, u64, u64) -> bool,
    handle: jlong,
    label_id: jint,
    tx: jlong,
    rx: jlong,
) -> jboolean {
    let checked = || -> Result<bool, Invalid> {
        // A handle that is not live: `false`, whatever the other arguments.
        let pushed = TABLE.with(handle as u64, |c| -> Result<bool, Invalid> {
            let (l, tx, rx) = (label(label_id)?, bytes("tx", tx)?, bytes("rx", rx)?);
            // true only if the push lands before shutdown's final snapshot.
            Ok(apply(c, l, tx, rx))
        });
        pushed.unwrap_or(Ok(false))
    };
    match std::panic::catch_unwind(checked) {
        Ok(Ok(applied)) => applied,
        Ok(Err(invalid)) => guarded(env, |_| Err(invalid.into())),
        Err(_) => guarded(env, |_| Err(Invalid("FastCounters: internal error (panic)".into()).into())),
    }
}

/// `FastCounters.add(handle, label, tx, rx): Boolean`, true if applied.
#[no_mangle]
pub(crate) extern "system" fn Java_dev_sockstatlog_FastCounters_add<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    handle: jlong,
    label_id: jint,
    tx: jlong,
    rx: jlong,
) -> jboolean {
    push_one(&mut env, Counters::try_add, handle, label_id, tx, rx)
}

/// `FastCounters.setTotals(handle, label, txTotal, rxTotal): Boolean`.
#[no_mangle]
pub(crate) extern "system" fn Java_dev_sockstatlog_FastCounters_setTotals<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    handle: jlong,
    label_id: jint,
    tx_total: jlong,
    rx_total: jlong,
) -> jboolean {
    push_one(&mut env, Counters::try_set_totals, handle, label_id, tx_total, rx_total)
}

/// `FastCounters.addMany(handle, labels, tx, rx): Boolean`: element i adds
/// `tx[i]`, `rx[i]` to `labels[i]`. Everything is checked before anything is
/// applied, so a bad element leaves the counters untouched.
#[no_mangle]
pub(crate) extern "system" fn Java_dev_sockstatlog_FastCounters_addMany<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    handle: jlong,
    labels: JIntArray<'l>,
    tx: JLongArray<'l>,
    rx: JLongArray<'l>,
) -> jboolean {
    // The arrays are read while the handle is held, so a release waits for
    // this call (microseconds for a large one) rather than freeing under it.
    guarded(&mut env, |env| TABLE.with(handle as u64, |c| add_many(env, c, &labels, &tx, &rx)).unwrap_or(Ok(false)))
}

/// `addMany` with a live handle's counters: the arrays are copied once
/// (another Java thread may be writing them), the copy is checked in full,
/// then applied from the copy, so the call applies every element or none.
fn add_many(
    env: &mut Env<'_>,
    c: &Counters,
    labels: &JIntArray<'_>,
    tx: &JLongArray<'_>,
    rx: &JLongArray<'_>,
) -> Result<bool, Failure> {
    if labels.is_null() || tx.is_null() || rx.is_null() {
        return Err(Invalid("FastCounters.addMany: null array".into()).into());
    }
    let n = labels.len(env)?;
    if tx.len(env)? != n || rx.len(env)? != n {
        return Err(Invalid(format!(
            "FastCounters.addMany: array lengths differ (labels {n}, tx {}, rx {})",
            tx.len(env)?,
            rx.len(env)?
        ))
        .into());
    }
    if c.is_closed() {
        return Ok(false);
    }
    if n <= CHUNK {
        let (mut l, mut t, mut r) = ([0 as jint; CHUNK], [0 as jlong; CHUNK], [0 as jlong; CHUNK]);
        copy_arrays(env, (labels, tx, rx), (&mut l[..n], &mut t[..n], &mut r[..n]))?;
        Ok(apply_all(c, &l[..n], &t[..n], &r[..n])?)
    } else {
        let (mut l, mut t, mut r) = (vec![0 as jint; n], vec![0 as jlong; n], vec![0 as jlong; n]);
        copy_arrays(env, (labels, tx, rx), (&mut l, &mut t, &mut r))?;
        Ok(apply_all(c, &l, &t, &r)?)
    }
}

/// Copies the three Java arrays into `out`, each read exactly once.
fn copy_arrays(
    env: &mut Env<'_>,
    (labels, tx, rx): (&JIntArray<'_>, &JLongArray<'_>, &JLongArray<'_>),
    (l, t, r): (&mut [jint], &mut [jlong], &mut [jlong]),
) -> Result<(), Failure> {
    labels.get_region(env, 0, l)?;
    tx.get_region(env, 0, t)?;
    rx.get_region(env, 0, r)?;
    Ok(())
}

/// Checks every element of the copied batch, then applies all of them; a
/// bad element anywhere applies nothing. True if every push landed before
/// shutdown's final snapshot (checked after the pushes, as
/// `Counters::try_add` does).
fn apply_all(c: &Counters, labels: &[jint], tx: &[jlong], rx: &[jlong]) -> Result<bool, Invalid> {
    for ((&l, &t), &r) in labels.iter().zip(tx).zip(rx) {
        label(l)?;
        bytes("tx", t)?;
        bytes("rx", r)?;
    }
    for ((&l, &t), &r) in labels.iter().zip(tx).zip(rx) {
        c.add(l as u8, t as u64, r as u64); // checked above
    }
    Ok(!c.is_closed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_element_anywhere_in_a_batch_applies_nothing() {
        let n = 3 * CHUNK + 7;
        for bad_at in [0, 1, CHUNK - 1, CHUNK, n / 2, n - 1] {
            for (what, l, t, r) in [("label", 256, 1, 1), ("label", -1, 1, 1), ("tx", 5, -1, 1), ("rx", 5, 1, i64::MIN)]
            {
                let c = Counters::default();
                let (mut labels, mut tx, mut rx) = (vec![5; n], vec![1; n], vec![2; n]);
                (labels[bad_at], tx[bad_at], rx[bad_at]) = (l, t, r);
                let Err(Invalid(msg)) = apply_all(&c, &labels, &tx, &rx) else { panic!("{what} at {bad_at} accepted") };
                assert!(msg.contains(what), "{msg}");
                assert_eq!(c.snapshot(), crate::counters::Snapshot::default(), "{what} at {bad_at}: nothing applied");
            }
        }
    }

    #[test]
    fn a_good_batch_applies_every_element() {
        let c = Counters::default();
        let n = 2 * CHUNK + 1;
        let labels: Vec<jint> = (0..n as jint).map(|i| i % 256).collect();
        assert!(matches!(apply_all(&c, &labels, &vec![1; n], &vec![2; n]), Ok(true)));
        let total: u64 = c.snapshot().0.iter().map(|s| s[0] + s[1]).sum();
        assert_eq!(total, 3 * n as u64);
    }
}
