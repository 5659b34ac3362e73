//! JSON equality and expression evaluation.

use std::borrow::Cow;

use concord_program::{BinOp, Builtin, Expr, Slot};
use serde_json::{Number, Value};

/// Variable bindings of one frame, by slot (`None` = not bound yet).
pub type Frame = Vec<Option<Value>>;

/// Deep JSON equality where numbers compare by value (`1 == 1.0`), objects by
/// content regardless of key order, and `null` is an ordinary value.
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => num_eq(x, y),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

fn num_eq(x: &Number, y: &Number) -> bool {
    match (x.as_i64(), y.as_i64()) {
        (Some(a), Some(b)) => a == b,
        _ => match (x.as_u64(), y.as_u64()) {
            (Some(a), Some(b)) => a == b,
            _ => x.as_f64() == y.as_f64(),
        },
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}

/// A string's own text, anything else as compact JSON.
pub fn display_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn number(v: f64) -> Result<Value, String> {
    Number::from_f64(v)
        .map(Value::Number)
        .ok_or_else(|| "arithmetic produced a value that is not a finite number".to_string())
}

fn arith(op: BinOp, a: &Number, b: &Number) -> Result<Value, String> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        let r = match op {
            BinOp::Add => x.checked_add(y),
            BinOp::Sub => x.checked_sub(y),
            BinOp::Mul => x.checked_mul(y),
            BinOp::Div if y == 0 => return Err("division by zero".into()),
            BinOp::Div if x % y == 0 => x.checked_div(y),
            _ => None,
        };
        if let Some(r) = r {
            return Ok(Value::from(r));
        }
    }
    let (x, y) = (a.as_f64().unwrap_or(f64::NAN), b.as_f64().unwrap_or(f64::NAN));
    match op {
        BinOp::Add => number(x + y),
        BinOp::Sub => number(x - y),
        BinOp::Mul => number(x * y),
        BinOp::Div if y == 0.0 => Err("division by zero".into()),
        BinOp::Div => number(x / y),
        _ => Err("not an arithmetic operator".into()),
    }
}

fn compare(op: BinOp, a: &Value, b: &Value) -> Result<bool, String> {
    let ord = match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .ok_or_else(|| "numbers cannot be compared".to_string())?,
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => {
            return Err(format!(
                "`{}` compares two numbers or two strings, not a {} and a {}",
                op.symbol(),
                type_name(a),
                type_name(b)
            ));
        }
    };
    Ok(match op {
        BinOp::Lt => ord.is_lt(),
        BinOp::Le => ord.is_le(),
        BinOp::Gt => ord.is_gt(),
        _ => ord.is_ge(),
    })
}

fn as_bool(v: &Value, what: &str) -> Result<bool, String> {
    v.as_bool()
        .ok_or_else(|| format!("{what} needs a boolean, got a {} ({v})", type_name(v)))
}

/// Why an expression has no value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvalError {
    /// A mistake in the syncs or a value they did not expect (`1 + true`):
    /// reported as the flow's error.
    Failed(String),
    /// A conversion refused untrusted input (`integer("1.5")`): not the
    /// server's fault, so a guarded step's `else` answers it.
    Rejected(Refusal),
}

/// What a conversion refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The converted expression as written (`limit`, `form.count`).
    pub what: String,
    /// What it should have been (`an integer`).
    pub expected: &'static str,
}

impl From<String> for EvalError {
    fn from(message: String) -> Self {
        EvalError::Failed(message)
    }
}

impl From<&str> for EvalError {
    fn from(message: &str) -> Self {
        EvalError::Failed(message.to_string())
    }
}

impl std::fmt::Display for EvalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EvalError::Failed(m) => f.write_str(m),
            EvalError::Rejected(r) => write!(f, "`{}` is not {}", r.what, r.expected),
        }
    }
}

/// An expression as written, for a refusal: variables and field accesses
/// by name, anything else as `the value`.
fn written(e: &Expr, vars: &[String]) -> String {
    match e {
        Expr::Var(s) => vars.get(*s).cloned().unwrap_or_else(|| "the value".into()),
        Expr::Field(b, f) => format!("{}.{f}", written(b, vars)),
        _ => "the value".into(),
    }
}

/// The conversions of untrusted text: `null` stays `null`; a value of the
/// type, or text that spells one, is converted; anything else is refused.
fn convert(f: Builtin, v: Value) -> Result<Value, &'static str> {
    let integral = |x: f64| x.fract() == 0.0 && x.abs() < 9.0e15;
    match (f, v) {
        (_, Value::Null) => Ok(Value::Null),
        (Builtin::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(Value::Number(n)),
        (Builtin::Integer, Value::Number(n)) => match n.as_f64() {
            Some(x) if integral(x) => Ok(Value::from(x as i64)),
            _ => Err("an integer"),
        },
        (Builtin::Integer, Value::String(s)) => {
            let t = s.trim();
            let digits = t.strip_prefix('-').unwrap_or(t);
            match !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                true => t.parse::<i64>().map(Value::from).map_err(|_| "an integer"),
                false => Err("an integer"),
            }
        }
        (Builtin::Integer, _) => Err("an integer"),
        (Builtin::Number, v @ Value::Number(_)) => Ok(v),
        (Builtin::Number, Value::String(s)) => {
            let t = s.trim();
            t.parse::<i64>()
                .map(Value::from)
                .ok()
                .or_else(|| {
                    t.parse::<f64>()
                        .ok()
                        .filter(|x| x.is_finite() && !t.chars().any(char::is_alphabetic))
                        .and_then(|x| serde_json::Number::from_f64(x).map(Value::Number))
                })
                .ok_or("a number")
        }
        (Builtin::Number, _) => Err("a number"),
        (_, v @ Value::Bool(_)) => Ok(v),
        (_, Value::String(s)) => match s.trim() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err("true or false"),
        },
        _ => Err("true or false"),
    }
}

/// Evaluates a checked expression in a frame. Errors drop the frame (never
/// panic): a failure is reported in the trace, a refusal of untrusted input
/// goes to the step's `else`.
pub fn eval(e: &Expr, frame: &Frame, vars: &[String]) -> Result<Value, EvalError> {
    Ok(match e {
        Expr::Lit(v) => v.clone(),
        Expr::Var(_) | Expr::Field(..) => eval_ref(e, frame, vars)?.into_owned(),
        Expr::Object(fields) => {
            let mut m = serde_json::Map::new();
            for (k, v) in fields {
                m.insert(k.clone(), eval(v, frame, vars)?);
            }
            Value::Object(m)
        }
        Expr::List(items) => Value::Array(items.iter().map(|i| eval(i, frame, vars)).collect::<Result<_, _>>()?),
        Expr::Not(b) => Value::Bool(!as_bool(&*eval_ref(b, frame, vars)?, "`!`")?),
        Expr::Neg(b) => match eval(b, frame, vars)? {
            Value::Number(n) => match n.as_i64() {
                Some(i) => Value::from(i.checked_neg().ok_or("integer overflow")?),
                None => number(-n.as_f64().unwrap_or(f64::NAN))?,
            },
            other => return Err(format!("`-` needs a number, got a {}", type_name(&other)).into()),
        },
        Expr::Binary(op, a, b) => binary(*op, a, b, frame, vars)?,
        // Only the branch `if` chooses is evaluated.
        Expr::Call(Builtin::If, args) if args.len() == 3 => {
            let condition = as_bool(&*eval_ref(&args[0], frame, vars)?, "`if`")?;
            eval(&args[if condition { 1 } else { 2 }], frame, vars)?
        }
        Expr::Call(f @ (Builtin::Integer | Builtin::Number | Builtin::Boolean), args) if args.len() == 1 => {
            let v = eval(&args[0], frame, vars)?;
            convert(*f, v).map_err(|expected| {
                EvalError::Rejected(Refusal {
                    what: written(&args[0], vars),
                    expected,
                })
            })?
        }
        Expr::Call(f, args) => {
            let args: Vec<Value> = args.iter().map(|a| eval(a, frame, vars)).collect::<Result<_, _>>()?;
            call(*f, args)?
        }
    })
}

static NULL: Value = Value::Null;

/// `e`'s value, borrowed from the frame where it is a variable or a field
/// of one (`form.article.title` copies the title, not the form), computed
/// otherwise.
fn eval_ref<'f>(e: &Expr, frame: &'f Frame, vars: &[String]) -> Result<Cow<'f, Value>, EvalError> {
    Ok(match e {
        Expr::Var(s) => Cow::Borrowed(lookup(*s, frame, vars)?),
        // Request bodies are untrusted: reading a field of something that is
        // not an object is `null` (a blank value the where clause can answer),
        // not an error that would leave the request unanswered.
        Expr::Field(b, f) => match eval_ref(b, frame, vars)? {
            Cow::Borrowed(Value::Object(m)) => Cow::Borrowed(m.get(f).unwrap_or(&NULL)),
            Cow::Owned(Value::Object(mut m)) => Cow::Owned(m.remove(f).unwrap_or(Value::Null)),
            _ => Cow::Borrowed(&NULL),
        },
        _ => Cow::Owned(eval(e, frame, vars)?),
    })
}

fn lookup<'f>(s: Slot, frame: &'f Frame, vars: &[String]) -> Result<&'f Value, EvalError> {
    frame.get(s).and_then(Option::as_ref).ok_or_else(|| {
        format!(
            "variable `{}` is not bound (the checker should have prevented this; please report it)",
            vars.get(s).map_or("?", String::as_str)
        )
        .into()
    })
}

fn binary(op: BinOp, a: &Expr, b: &Expr, frame: &Frame, vars: &[String]) -> Result<Value, EvalError> {
    match op {
        BinOp::And => {
            let l = as_bool(&*eval_ref(a, frame, vars)?, "`&&`")?;
            return Ok(Value::Bool(l && as_bool(&*eval_ref(b, frame, vars)?, "`&&`")?));
        }
        BinOp::Or => {
            let l = as_bool(&*eval_ref(a, frame, vars)?, "`||`")?;
            return Ok(Value::Bool(l || as_bool(&*eval_ref(b, frame, vars)?, "`||`")?));
        }
        _ => {}
    }
    let (x, y) = (eval_ref(a, frame, vars)?, eval_ref(b, frame, vars)?);
    let (x, y) = (x.as_ref(), y.as_ref());
    Ok(match op {
        BinOp::Eq => Value::Bool(json_eq(x, y)),
        BinOp::Ne => Value::Bool(!json_eq(x, y)),
        BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => Value::Bool(compare(op, x, y)?),
        BinOp::Add => match (&x, &y) {
            (Value::Number(m), Value::Number(n)) => arith(op, m, n)?,
            (Value::Array(m), Value::Array(n)) => Value::Array(m.iter().chain(n).cloned().collect()),
            (Value::Object(m), Value::Object(n)) => {
                let mut merged = m.clone();
                merged.extend(n.iter().map(|(k, v)| (k.clone(), v.clone())));
                Value::Object(merged)
            }
            (Value::String(_), _) | (_, Value::String(_)) => {
                Value::String(format!("{}{}", display_string(x), display_string(y)))
            }
            _ => {
                return Err(format!("`+` cannot add a {} and a {}", type_name(x), type_name(y)).into());
            }
        },
        _ => match (&x, &y) {
            (Value::Number(m), Value::Number(n)) => arith(op, m, n)?,
            _ => {
                return Err(format!(
                    "`{}` needs two numbers, got a {} and a {}",
                    op.symbol(),
                    type_name(x),
                    type_name(y)
                )
                .into());
            }
        },
    })
}

fn call(f: Builtin, mut args: Vec<Value>) -> Result<Value, String> {
    let string_arg = |v: &Value| -> Result<String, String> {
        v.as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("`{}` needs a string, got a {}", f.name(), type_name(v)))
    };
    Ok(match f {
        Builtin::Now => {
            let ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64);
            Value::from(ms)
        }
        Builtin::Len => match &args[0] {
            Value::String(s) => Value::from(s.chars().count()),
            Value::Array(a) => Value::from(a.len()),
            Value::Object(o) => Value::from(o.len()),
            other => {
                return Err(format!(
                    "`len` needs a string, list or object, got a {}",
                    type_name(other)
                ));
            }
        },
        Builtin::Lower => Value::String(string_arg(&args[0])?.to_lowercase()),
        Builtin::Upper => Value::String(string_arg(&args[0])?.to_uppercase()),
        Builtin::Trim => Value::String(string_arg(&args[0])?.trim().to_string()),
        Builtin::Coalesce => args.drain(..).find(|v| !v.is_null()).unwrap_or(Value::Null),
        Builtin::Contains => match (&args[0], &args[1]) {
            (Value::String(s), Value::String(n)) => Value::Bool(s.contains(n.as_str())),
            (Value::Array(items), x) => Value::Bool(items.iter().any(|i| json_eq(i, x))),
            (other, _) => {
                return Err(format!(
                    "`contains` needs a list or a string, got a {}",
                    type_name(other)
                ));
            }
        },
        Builtin::ToString => Value::String(display_string(&args[0])),
        Builtin::If => {
            let condition = as_bool(&args[0], "`if`")?;
            args.swap_remove(if condition { 1 } else { 2 })
        }
        Builtin::Integer | Builtin::Number | Builtin::Boolean => {
            convert(f, args.swap_remove(0)).map_err(|expected| format!("`{}` needs {expected}", f.name()))?
        }
        Builtin::Has => Value::Bool(match (&args[0], &args[1]) {
            (Value::Object(o), Value::String(k)) => o.contains_key(k),
            (_, Value::String(_)) => false,
            (_, other) => return Err(format!("`has` needs a key name (a string), got a {}", type_name(other))),
        }),
        Builtin::Blank => Value::Bool(match &args[0] {
            Value::Null => true,
            Value::String(s) => s.trim().is_empty(),
            _ => false,
        }),
        Builtin::Compact => match args.swap_remove(0) {
            Value::Object(o) => Value::Object(o.into_iter().filter(|(_, v)| !v.is_null()).collect()),
            other => return Err(format!("`compact` needs an object, got a {}", type_name(&other))),
        },
        Builtin::Intersect => match (&args[0], &args[1]) {
            (Value::Array(a), Value::Array(b)) => {
                Value::Array(a.iter().filter(|x| b.iter().any(|y| json_eq(x, y))).cloned().collect())
            }
            (a, b) => {
                return Err(format!(
                    "`intersect` needs two lists, got a {} and a {}",
                    type_name(a),
                    type_name(b)
                ));
            }
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_compare_by_value_and_objects_by_content() {
        assert!(json_eq(&json!(1), &json!(1.0)));
        assert!(json_eq(&json!({"a": 1, "b": [1, 2]}), &json!({"b": [1, 2], "a": 1})));
        assert!(!json_eq(&json!({"a": null}), &json!({})));
        assert!(!json_eq(&json!([1, 2]), &json!([2, 1])));
    }

    #[test]
    fn arithmetic_and_concatenation() {
        let f: Frame = vec![Some(json!("x")), Some(json!(3))];
        let vars = vec!["t".to_string(), "n".to_string()];
        let add = |a: Expr, b: Expr| Expr::Binary(BinOp::Add, Box::new(a), Box::new(b));
        assert_eq!(
            eval(&add(Expr::Var(0), Expr::Lit(json!(":a"))), &f, &vars),
            Ok(json!("x:a"))
        );
        assert_eq!(
            eval(&add(Expr::Lit(json!("v:")), Expr::Var(1)), &f, &vars),
            Ok(json!("v:3"))
        );
        assert_eq!(
            eval(&add(Expr::Var(1), Expr::Lit(json!(0.5))), &f, &vars),
            Ok(json!(3.5))
        );
        let objects = add(Expr::Lit(json!({"a": 1, "b": 2})), Expr::Lit(json!({"b": 3, "c": 4})));
        assert_eq!(
            eval(&objects, &f, &vars),
            Ok(json!({"a": 1, "b": 3, "c": 4})),
            "the right side wins"
        );
        let div = Expr::Binary(BinOp::Div, Box::new(Expr::Var(1)), Box::new(Expr::Lit(json!(0))));
        assert_eq!(eval(&div, &f, &vars), Err("division by zero".into()));
    }

    #[test]
    fn field_access_on_anything_but_an_object_is_null() {
        let f: Frame = vec![Some(Value::Null), Some(json!(3))];
        let vars = vec!["u".to_string(), "n".to_string()];
        assert_eq!(
            eval(&Expr::Field(Box::new(Expr::Var(0)), "email".into()), &f, &vars),
            Ok(Value::Null)
        );
        assert_eq!(
            eval(&Expr::Field(Box::new(Expr::Var(1)), "email".into()), &f, &vars),
            Ok(Value::Null)
        );
    }

    #[test]
    fn builtins() {
        let f: Frame = vec![];
        let c = |b, args: Vec<Value>| eval(&Expr::Call(b, args.into_iter().map(Expr::Lit).collect()), &f, &[]);
        assert_eq!(c(Builtin::Len, vec![json!("héllo")]), Ok(json!(5)));
        assert_eq!(c(Builtin::Coalesce, vec![Value::Null, json!(2)]), Ok(json!(2)));
        assert_eq!(
            c(Builtin::Contains, vec![json!(["a", "b"]), json!("b")]),
            Ok(json!(true))
        );
        assert_eq!(c(Builtin::Lower, vec![json!("AbC")]), Ok(json!("abc")));
        assert_eq!(c(Builtin::ToString, vec![json!(12)]), Ok(json!("12")));
        assert!(c(Builtin::Upper, vec![json!(1)]).is_err());
        assert_eq!(c(Builtin::If, vec![json!(true), json!(1), json!(2)]), Ok(json!(1)));
        assert_eq!(c(Builtin::If, vec![json!(false), json!(1), json!(2)]), Ok(json!(2)));
        assert!(c(Builtin::If, vec![json!("yes"), json!(1), json!(2)]).is_err());
        let lazy = Expr::Call(
            Builtin::If,
            vec![
                Expr::Lit(json!(true)),
                Expr::Lit(json!("taken")),
                Expr::Call(Builtin::Upper, vec![Expr::Lit(json!(1))]),
            ],
        );
        assert_eq!(
            eval(&lazy, &f, &[]),
            Ok(json!("taken")),
            "the branch not taken is not evaluated"
        );
        assert_eq!(c(Builtin::Number, vec![json!(" 20 ")]), Ok(json!(20)));
        assert_eq!(c(Builtin::Number, vec![json!("2.5")]), Ok(json!(2.5)));
        assert_eq!(c(Builtin::Number, vec![Value::Null]), Ok(Value::Null));
        let refused = |expected| {
            Err(EvalError::Rejected(Refusal {
                what: "the value".into(),
                expected,
            }))
        };
        assert_eq!(c(Builtin::Number, vec![json!("ten")]), refused("a number"));
        assert_eq!(c(Builtin::Number, vec![json!("inf")]), refused("a number"));
        assert_eq!(c(Builtin::Number, vec![json!([1])]), refused("a number"));
        assert_eq!(c(Builtin::Integer, vec![json!("20")]), Ok(json!(20)));
        assert_eq!(c(Builtin::Integer, vec![json!("-3")]), Ok(json!(-3)));
        assert_eq!(c(Builtin::Integer, vec![json!(4.0)]), Ok(json!(4)));
        assert_eq!(c(Builtin::Integer, vec![Value::Null]), Ok(Value::Null));
        for bad in [
            json!("1.5"),
            json!("1.0"),
            json!(1.5),
            json!("abc"),
            json!(""),
            json!("1e3"),
            json!(true),
        ] {
            assert_eq!(c(Builtin::Integer, vec![bad]), refused("an integer"));
        }
        assert_eq!(
            c(Builtin::Integer, vec![json!("99999999999999999999")]),
            refused("an integer")
        );
        assert_eq!(c(Builtin::Boolean, vec![json!("true")]), Ok(json!(true)));
        assert_eq!(c(Builtin::Boolean, vec![json!(false)]), Ok(json!(false)));
        assert_eq!(c(Builtin::Boolean, vec![json!("yes")]), refused("true or false"));
        assert_eq!(c(Builtin::Has, vec![json!({"a": null}), json!("a")]), Ok(json!(true)));
        assert_eq!(c(Builtin::Has, vec![json!({"a": 1}), json!("b")]), Ok(json!(false)));
        assert_eq!(c(Builtin::Has, vec![Value::Null, json!("a")]), Ok(json!(false)));
        let form = Expr::Field(Box::new(Expr::Var(0)), "count".into());
        assert_eq!(
            eval(
                &Expr::Call(Builtin::Integer, vec![form]),
                &vec![Some(json!({"count": "x"}))],
                &["form".into()]
            ),
            Err(EvalError::Rejected(Refusal {
                what: "form.count".into(),
                expected: "an integer"
            }))
        );
        assert_eq!(c(Builtin::Blank, vec![json!("  ")]), Ok(json!(true)));
        assert_eq!(c(Builtin::Blank, vec![Value::Null]), Ok(json!(true)));
        assert_eq!(c(Builtin::Blank, vec![json!("x")]), Ok(json!(false)));
        assert_eq!(
            c(Builtin::Intersect, vec![json!(["c", "a", "b"]), json!(["b", "c"])]),
            Ok(json!(["c", "b"]))
        );
        assert_eq!(
            c(Builtin::Compact, vec![json!({"a": null, "b": 1})]),
            Ok(json!({"b": 1}))
        );
    }
}
