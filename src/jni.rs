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

/// Bulk pushes are copied out of the Java arrays this many at a time, so a
/// call of any size needs no heap allocation (3 × 256 × 8 bytes of stack).
const CHUNK: usize = 256;

/// A bad argument from Kotlin, thrown as `IllegalArgumentException`.
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

/// `addMany` with a live handle's counters.
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
    let (mut l, mut t, mut r) = ([0 as jint; CHUNK], [0 as jlong; CHUNK], [0 as jlong; CHUNK]);
    // Pass 1 checks everything (all-or-nothing); a call of at most CHUNK
    // elements is applied from the copy it already made, larger ones are
    // read again in pass 2.
    for apply in [false, true] {
        if apply && n <= CHUNK {
            for i in 0..n {
                c.add(l[i] as u8, t[i] as u64, r[i] as u64); // checked in pass 1
            }
            break;
        }
        for start in (0..n).step_by(CHUNK) {
            let len = CHUNK.min(n - start);
            let at = start as i32; // n fits: it came from a Java int
            labels.get_region(env, at, &mut l[..len])?;
            tx.get_region(env, at, &mut t[..len])?;
            rx.get_region(env, at, &mut r[..len])?;
            for i in 0..len {
                let (li, ti, ri) = (label(l[i])?, bytes("tx", t[i])?, bytes("rx", r[i])?);
                if apply {
                    c.add(li, ti, ri);
                }
            }
        }
    }
    // Checked after the pushes (see `Counters::try_add`): true only if
    // every one lands before shutdown's final snapshot.
    Ok(!c.is_closed())
}
