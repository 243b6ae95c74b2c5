//! The console on a terminal: line editing, history and completion of
//! command and player names (rustyline), with log lines printed above the
//! line being typed instead of through it. On a pipe or a closed stdin the
//! console reads plain lines (see `console::stdin_lines`).

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{Context, Editor, ExternalPrinter, Helper, Highlighter, Hinter, Validator};
use tokio::sync::mpsc;
use tracing_subscriber::fmt::MakeWriter;

/// Where log lines go while a prompt is on screen; `None` before (and
/// without) one, when they go straight to stderr.
type Printer = Arc<Mutex<Option<Box<dyn ExternalPrinter + Send>>>>;

/// The log's writer: stderr, or above the prompt once the terminal console runs.
#[derive(Clone, Default)]
pub struct LogOutput {
    printer: Printer,
}

impl LogOutput {
    /// A command's answer: above the prompt on a terminal, else on stdout.
    pub fn print(&self, mut text: String) {
        let mut printer = self.printer.lock().unwrap_or_else(PoisonError::into_inner);
        match printer.as_mut() {
            Some(printer) => {
                // Between two prompts rustyline writes the text as it is, and
                // the next prompt, drawn from the start of the line, would
                // cover a last line that has no newline.
                if !text.ends_with('\n') {
                    text.push('\n');
                }
                if let Err(e) = printer.print(text.clone()) {
                    print!("{text}");
                    tracing::debug!("console printer failed: {e}");
                }
            }
            None => println!("{text}"),
        }
    }
}

impl<'a> MakeWriter<'a> for LogOutput {
    type Writer = LogLine;

    fn make_writer(&'a self) -> LogLine {
        LogLine {
            printer: self.printer.clone(),
            text: Vec::new(),
        }
    }
}

/// One log event, written out whole when it is dropped.
pub struct LogLine {
    printer: Printer,
    text: Vec<u8>,
}

impl Write for LogLine {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.text.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LogLine {
    fn drop(&mut self) {
        let text = std::mem::take(&mut self.text);
        let mut printer = self.printer.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(printer) = printer.as_mut() {
            if printer
                .print(String::from_utf8_lossy(&text).into_owned())
                .is_ok()
            {
                return;
            }
        }
        let _ = std::io::stderr().write_all(&text);
    }
}

/// Completes the first word from the console's commands and later words
/// from the players online.
#[derive(Helper, Hinter, Highlighter, Validator)]
struct Completion {
    commands: Vec<&'static str>,
    players: Arc<dyn Fn() -> Vec<String> + Send + Sync>,
}

impl Completer for Completion {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let start = before.rfind(' ').map_or(0, |space| space + 1);
        let word = &before[start..];
        let names: Vec<String> = if start == 0 {
            self.commands.iter().map(|c| (*c).to_owned()).collect()
        } else {
            (self.players)()
        };
        let pairs = names
            .into_iter()
            .filter(|name| name.starts_with(word))
            .map(|name| Pair {
                display: name.clone(),
                replacement: name,
            })
            .collect();
        Ok((start, pairs))
    }
}

/// Reads lines on a terminal on a thread of its own. Ctrl-C means `stop`,
/// as it does for vanilla's console; Ctrl-D ends the console and leaves the
/// server running. `None` when no editor can run on this terminal.
pub fn lines(
    log: &LogOutput,
    commands: Vec<&'static str>,
    players: Arc<dyn Fn() -> Vec<String> + Send + Sync>,
) -> Option<mpsc::Receiver<String>> {
    let mut editor: Editor<Completion, DefaultHistory> = Editor::new().ok()?;
    editor.set_helper(Some(Completion { commands, players }));
    let printer = editor.create_external_printer().ok()?;
    *log.printer.lock().unwrap_or_else(PoisonError::into_inner) = Some(Box::new(printer));
    let (lines, receiver) = mpsc::channel(16);
    let printer = log.printer.clone();
    let spawned = std::thread::Builder::new()
        .name("console".into())
        .spawn(move || {
            loop {
                let line = match editor.readline("> ") {
                    Ok(line) => line,
                    Err(ReadlineError::Interrupted) => "stop".to_owned(),
                    Err(_) => break,
                };
                if !line.trim().is_empty() {
                    let _ = editor.add_history_entry(line.as_str());
                }
                if lines.blocking_send(line).is_err() {
                    break;
                }
            }
            // No prompt any more: the log goes to stderr again.
            *printer.lock().unwrap_or_else(PoisonError::into_inner) = None;
        });
    match spawned {
        Ok(_) => Some(receiver),
        Err(_) => {
            *log.printer.lock().unwrap_or_else(PoisonError::into_inner) = None;
            None
        }
    }
}
