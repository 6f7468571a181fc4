// Prompt cleanup before CLIP BPE, after OpenAI CLIP's `basic_clean` + `whitespace_clean`:
// ftfy.fix_text (here the simple, common parts: control characters, BOM, curly quotes, Latin
// ligatures, full-width ASCII, NFC), HTML unescape twice, whitespace collapse, lower-casing.
// ftfy's mojibake repair ("cafÃ©" → "café") is not reproduced.

const NAMED_ENTITIES: Readonly<Record<string, string>> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: '\u00a0',
  ndash: '\u2013',
  mdash: '\u2014',
  lsquo: '\u2018',
  rsquo: '\u2019',
  ldquo: '\u201c',
  rdquo: '\u201d',
  hellip: '\u2026',
  copy: '\u00a9',
  reg: '\u00ae',
  trade: '\u2122',
  deg: '\u00b0',
  times: '\u00d7',
  middot: '\u00b7',
  eacute: '\u00e9',
  egrave: '\u00e8',
  agrave: '\u00e0',
  ccedil: '\u00e7',
  uuml: '\u00fc',
  ouml: '\u00f6',
  auml: '\u00e4',
  szlig: '\u00df',
};

/** Python's `html.unescape` for numeric references and the common named ones. */
export function unescapeHtml(text: string): string {
  return text.replace(
    /&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]{1,31});?/g,
    (whole, body: string) => {
      if (body[0] === '#') {
        const code =
          body[1] === 'x' || body[1] === 'X'
            ? parseInt(body.slice(2), 16)
            : parseInt(body.slice(1), 10);
        // html.unescape turns invalid code points into U+FFFD and NUL into U+FFFD as well.
        if (code === 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return '\ufffd';
        return String.fromCodePoint(code);
      }
      // Named references need their ';' except the legacy few; requiring it is the safe subset.
      if (!whole.endsWith(';')) return whole;
      return NAMED_ENTITIES[body] ?? whole;
    },
  );
}

const LIGATURES: Readonly<Record<string, string>> = {
  '\ufb00': 'ff',
  '\ufb01': 'fi',
  '\ufb02': 'fl',
  '\ufb03': 'ffi',
  '\ufb04': 'ffl',
  '\ufb05': 'ſt',
  '\ufb06': 'st',
  '\u0132': 'IJ',
  '\u0133': 'ij',
  '\u01c7': 'LJ',
  '\u01c8': 'Lj',
  '\u01c9': 'lj',
  '\u01ca': 'NJ',
  '\u01cb': 'Nj',
  '\u01cc': 'nj',
};

/** The simple parts of ftfy.fix_text with its default settings. */
export function fixText(text: string): string {
  return (
    text
      // BOM and C0/C1 control characters other than whitespace (ftfy remove_control_chars).
      // eslint-disable-next-line no-control-regex -- matching control characters is the point
      .replace(/[\ufeff\u0000-\u0008\u000b\u000e-\u001f\u007f-\u0084\u0086-\u009f]/g, '')
      // uncurl_quotes
      .replace(/[\u2018\u2019\u201a\u201b]/g, "'")
      .replace(/[\u201c\u201d\u201e\u201f]/g, '"')
      // fix_latin_ligatures
      .replace(/[\ufb00-\ufb06\u0132\u0133\u01c7-\u01cc]/g, (c) => LIGATURES[c] ?? c)
      // fix_character_width: full-width ASCII and the ideographic space.
      .replace(/[\uff01-\uff5e]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xfee0))
      .replace(/\u3000/g, ' ')
      .normalize('NFC')
  );
}

// Python's `\s` (str patterns): JS `\s` minus U+FEFF (removed above), plus \x1c-\x1f and \x85.
// eslint-disable-next-line no-control-regex -- \x1c-\x1f are whitespace to Python
const WHITESPACE = /[\s\x1c-\x1f\x85]+/g;

/** CLIP's cleanup: fix_text, html.unescape twice, strip, whitespace collapse, lower-case. */
export function cleanPrompt(text: string): string {
  const basic = unescapeHtml(unescapeHtml(fixText(text))).trim();
  return basic.replace(WHITESPACE, ' ').trim().toLowerCase();
}
