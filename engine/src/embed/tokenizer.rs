//! BERT's uncased WordPiece tokenizer, as the model's `tokenizer.json` describes it: clean,
//! split CJK ideographs, strip accents, lowercase; split on whitespace and punctuation; greedy
//! longest-match WordPiece with `##` continuations; `[CLS] ... [SEP]`, at most `max_tokens`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;
use unicode_normalization::UnicodeNormalization;

use crate::error::{Error, Result};

/// Words longer than this many characters are one `[UNK]` (WordPiece's `max_input_chars_per_word`).
const MAX_WORD_CHARS: usize = 100;

/// Special tokens matched in the raw text before normalisation (the `added_tokens`).
const SPECIAL: [&str; 5] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

/// Unicode general categories the normaliser needs (`regex` carries the tables).
static OTHER: LazyLock<Regex> = LazyLock::new(|| category(r"\p{C}"));
static NONSPACING_MARK: LazyLock<Regex> = LazyLock::new(|| category(r"\p{Mn}"));
static PUNCTUATION: LazyLock<Regex> = LazyLock::new(|| category(r"\p{P}"));

#[allow(clippy::expect_used)] // constant patterns, covered by every tokenizer test
fn category(pattern: &str) -> Regex {
    Regex::new(&format!("^{pattern}$")).expect("a valid category pattern")
}

fn in_category(re: &Regex, c: char) -> bool {
    let mut buf = [0u8; 4];
    re.is_match(c.encode_utf8(&mut buf))
}

/// The vocabulary and the special tokens' ids.
#[derive(Debug)]
pub(crate) struct Tokenizer {
    vocab: HashMap<String, u32>,
    special: [u32; 5],
    cls: u32,
    sep: u32,
    unk: u32,
    size: usize,
}

impl Tokenizer {
    /// Reads `vocab.txt` (one token a line, the line number is its id).
    pub(crate) fn load(path: &Path) -> Result<Tokenizer> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
        Tokenizer::from_vocab(text.lines()).map_err(|detail| Error::EmbeddingModel {
            detail: format!("{}: {detail}", path.display()),
        })
    }

    pub(crate) fn from_vocab<'a>(
        lines: impl Iterator<Item = &'a str>,
    ) -> Result<Tokenizer, String> {
        let mut size = 0;
        let vocab: HashMap<String, u32> = lines
            .enumerate()
            .map(|(i, t)| {
                size = i + 1;
                (t.trim_end_matches('\r').to_owned(), i as u32)
            })
            .collect();
        let id = |t: &str| {
            vocab
                .get(t)
                .copied()
                .ok_or_else(|| format!("the vocabulary has no {t} token"))
        };
        let special = [
            id(SPECIAL[0])?,
            id(SPECIAL[1])?,
            id(SPECIAL[2])?,
            id(SPECIAL[3])?,
            id(SPECIAL[4])?,
        ];
        Ok(Tokenizer {
            cls: special[2],
            sep: special[3],
            unk: special[1],
            special,
            vocab,
            size,
        })
    }

    /// Ids run from 0 to `vocab_size() - 1`.
    pub(crate) fn vocab_size(&self) -> usize {
        self.size
    }

    /// Token ids of `text`: `[CLS]`, the text's pieces cut to `max_tokens - 2`, `[SEP]`.
    pub(crate) fn encode(&self, text: &str, max_tokens: usize) -> Vec<u32> {
        let room = max_tokens.saturating_sub(2);
        let mut ids = vec![self.cls];
        let mut rest = text;
        while ids.len() <= room && !rest.is_empty() {
            // The earliest special token in the rest, matched before normalisation.
            let next = SPECIAL
                .iter()
                .enumerate()
                .filter_map(|(k, s)| rest.find(s).map(|at| (at, k)))
                .min();
            let (plain, special) = match next {
                Some((at, k)) => (&rest[..at], Some(k)),
                None => (rest, None),
            };
            self.encode_plain(plain, room + 1, &mut ids);
            match special {
                Some(k) => {
                    if ids.len() <= room {
                        ids.push(self.special[k]);
                    }
                    rest = &rest[plain.len() + SPECIAL[k].len()..];
                }
                None => rest = "",
            }
        }
        ids.truncate(room + 1);
        ids.push(self.sep);
        ids
    }

    /// Appends the pieces of `text` (no special tokens in it) while `ids` is shorter than `limit`.
    fn encode_plain(&self, text: &str, limit: usize, ids: &mut Vec<u32>) {
        let normal = normalize(text);
        for word in pre_split(&normal) {
            if ids.len() >= limit {
                return;
            }
            self.word_pieces(word, ids);
        }
    }

    /// Greedy longest-match-first WordPiece; a word with an unmatched remainder is `[UNK]`.
    fn word_pieces(&self, word: &str, ids: &mut Vec<u32>) {
        if word.chars().count() > MAX_WORD_CHARS {
            ids.push(self.unk);
            return;
        }
        let mark = ids.len();
        let mut start = 0;
        let mut piece = String::new();
        while start < word.len() {
            let mut end = word.len();
            let mut found = None;
            while end > start {
                piece.clear();
                if start > 0 {
                    piece.push_str("##");
                }
                piece.push_str(&word[start..end]);
                if let Some(&id) = self.vocab.get(piece.as_str()) {
                    found = Some(id);
                    break;
                }
                // Back off by one character.
                end = word[..end]
                    .char_indices()
                    .next_back()
                    .map_or(start, |(i, _)| i);
            }
            match found {
                Some(id) => {
                    ids.push(id);
                    start = end;
                }
                None => {
                    ids.truncate(mark);
                    ids.push(self.unk);
                    return;
                }
            }
        }
    }
}

/// BERT's normaliser: drop NUL, U+FFFD and other control characters, whitespace to spaces,
/// spaces around CJK ideographs, NFD without non-spacing marks, lowercase (per character).
pub(crate) fn normalize(text: &str) -> String {
    let mut cleaned = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '\0' || c == '\u{fffd}' || is_control(c) {
            continue;
        } else if c.is_whitespace() {
            cleaned.push(' ');
        } else if is_cjk(c) {
            cleaned.push(' ');
            cleaned.push(c);
            cleaned.push(' ');
        } else {
            cleaned.push(c);
        }
    }
    let mut out = String::with_capacity(cleaned.len());
    for c in cleaned.nfd() {
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else if !in_category(&NONSPACING_MARK, c) {
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// BERT's pre-tokenizer: words split on whitespace, each punctuation character a word.
pub(crate) fn pre_split(text: &str) -> impl Iterator<Item = &str> {
    text.split(char::is_whitespace).flat_map(|chunk| {
        let mut words = Vec::new();
        let mut start = 0;
        for (i, c) in chunk.char_indices() {
            if is_punctuation(c) {
                if start < i {
                    words.push(&chunk[start..i]);
                }
                words.push(&chunk[i..i + c.len_utf8()]);
                start = i + c.len_utf8();
            }
        }
        if start < chunk.len() {
            words.push(&chunk[start..]);
        }
        words
    })
}

fn is_control(c: char) -> bool {
    !matches!(c, '\t' | '\n' | '\r')
        && (c.is_control() || (!c.is_ascii() && in_category(&OTHER, c)))
}

fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation() || (!c.is_ascii() && in_category(&PUNCTUATION, c))
}

/// The CJK Unified Ideographs blocks BERT isolates (not Hangul, Hiragana or Katakana).
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x4E00..=0x9FFF
        | 0x3400..=0x4DBF
        | 0x20000..=0x2A6DF
        | 0x2A700..=0x2B73F
        | 0x2B740..=0x2B81F
        | 0x2B920..=0x2CEAF
        | 0xF900..=0xFAFF
        | 0x2F800..=0x2FA1F)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Tokenizer {
        let vocab = [
            "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "un", "##aff",
            "##able", ",", "!", "cafe", "中", "文", "a",
        ];
        #[allow(clippy::unwrap_used)]
        Tokenizer::from_vocab(vocab.into_iter()).unwrap()
    }

    #[test]
    fn normalisation_lowercases_strips_accents_and_spaces_ideographs() {
        assert_eq!(normalize("Café\tHÉLLO\u{0}x"), "cafe hellox");
        assert_eq!(normalize("中文"), " 中  文 ");
    }

    #[test]
    fn punctuation_is_its_own_word() {
        let words: Vec<_> = pre_split("hello, world!! «a»").collect();
        assert_eq!(words, ["hello", ",", "world", "!", "!", "«", "a", "»"]);
    }

    #[test]
    fn wordpiece_is_greedy_and_unknown_words_are_one_unk() {
        let t = tiny();
        assert_eq!(t.encode("Unaffable hello", 256), [2, 7, 8, 9, 5, 3]);
        assert_eq!(t.encode("unaffx world", 256), [2, 1, 6, 3]);
        assert_eq!(t.encode("", 256), [2, 3]);
        assert_eq!(t.encode("Café 中文!", 256), [2, 12, 13, 14, 11, 3]);
    }

    #[test]
    fn special_tokens_in_the_text_are_kept_and_length_is_capped() {
        let t = tiny();
        assert_eq!(t.encode("hello[MASK]world", 256), [2, 5, 4, 6, 3]);
        let long = "hello ".repeat(1000);
        let ids = t.encode(&long, 256);
        assert_eq!(ids.len(), 256);
        assert_eq!((ids[0], ids[255]), (2, 3));
        assert_eq!(t.encode(&long, 5), [2, 5, 5, 5, 3]);
    }
}
