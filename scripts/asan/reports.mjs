// Reads the sanitizer logs of a run (one file per process and runtime, written
// through log_path) and sorts every report: tfserve's own (a frame of any of
// its stacks in native/ or in the sanitized addon), suppressed (matched by an entry of suppressions.txt, which
// says whose it is and why), or unexplained (neither: to be looked at).
import fs from 'node:fs';
import path from 'node:path';

import { REPO_ROOT } from '../paths.mjs';

const NATIVE_DIR = path.join(REPO_ROOT, 'native') + path.sep;
const SUPPRESSIONS_FILE = path.join(REPO_ROOT, 'scripts', 'asan', 'suppressions.txt');

// A report starts with ASan's/LSan's "ERROR:" banner or UBSan's "runtime error:" line.
// The banner is "==PID==" or, with log_exe_name, "==EXE==PID==".
const REPORT_START = /^==[\w.-]+==(?:\d+==)?ERROR: (?:Address|Leak)Sanitizer|: runtime error: /;
// "#3 0x7f.. in fn /src/file.cc:12:3", "#3 0x7f.. in fn (/lib/x.so+0x12)", "#3 0x7f.. (/lib/x.so+0x12)".
const FRAME = /^\s*#\d+ 0x[0-9a-f]+ (?:in (.*?) )?(\S+)$/;

/**
 * Entries of suppressions.txt: `category field:substring`, e.g.
 * `tensorflow module:libtensorflow_framework.so`; '#' starts a comment. A
 * report is suppressed when none of its frames is tfserve's and some line of
 * it (first stack, banner, summary) contains the substring in that field.
 */
export function readSuppressions(file = SUPPRESSIONS_FILE) {
  const entries = [];
  for (const [index, raw] of fs.readFileSync(file, 'utf8').split('\n').entries()) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const match = /^(\S+)\s+(kind|function|module|text):(.+)$/.exec(line);
    if (!match) throw new Error(`${path.relative(REPO_ROOT, file)}:${index + 1}: expected 'category field:substring', got '${line}'`);
    entries.push({ category: match[1], field: match[2], needle: match[3].trim(), line: index + 1 });
  }
  return entries;
}

function parseReport(lines, file) {
  const text = lines.join('\n');
  const banner = lines[0];
  const kind = /runtime error: /.test(banner)
    ? `ubsan: ${banner.replace(/^.*runtime error: /, '').slice(0, 100)}`
    : (/ERROR: \w+Sanitizer: ([\w-]+)/.exec(banner)?.[1] ?? 'unknown');
  // The first stack is where the error happened; later ones (allocation, free, thread creation) follow a blank line.
  const frames = [];
  for (const line of lines.slice(1)) {
    const frame = FRAME.exec(line);
    if (frame) frames.push({ fn: frame[1] ?? '', where: frame[2].replace(/^\(|\)$/g, ''), line: line.trim() });
    else if (frames.length > 0 && line.trim() === '') break;
  }
  const ubsanSite = /^(\S+?):\d+:\d+: runtime error/.exec(banner)?.[1] ?? '';
  const ours = (where) => where.startsWith(NATIVE_DIR) || /build-asan\/Release\/tfserve\.node/.test(where);
  // Any stack counts (access, allocation, free): a TF free of memory tfserve
  // allocated the wrong way is tfserve's bug.
  const allFrames = lines.map((line) => FRAME.exec(line)).filter(Boolean).map((m) => m[2].replace(/^\(|\)$/g, ''));
  const tfserve = ours(ubsanSite) || allFrames.some(ours);
  return { file, kind, banner, frames, tfserve, text };
}

export function readReports(logDir) {
  const reports = [];
  if (!fs.existsSync(logDir)) return reports;
  for (const name of fs.readdirSync(logDir).sort()) {
    const file = path.join(logDir, name);
    let current = null;
    for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
      if (REPORT_START.test(line)) {
        if (current) reports.push(parseReport(current, name));
        current = [line];
      } else if (current) {
        current.push(line);
      }
    }
    if (current) reports.push(parseReport(current, name));
  }
  return reports;
}

function matches(report, entry) {
  switch (entry.field) {
    case 'kind': return report.kind.includes(entry.needle);
    case 'function': return report.frames.some((f) => f.fn.includes(entry.needle));
    case 'module': return report.frames.some((f) => f.where.includes(entry.needle));
    default: return report.text.includes(entry.needle);
  }
}

/** { tfserve: [...], suppressed: Map(category → [...]), unexplained: [...] } */
export function classify(reports, suppressions) {
  const result = { tfserve: [], suppressed: new Map(), unexplained: [] };
  for (const report of reports) {
    if (report.tfserve) {
      result.tfserve.push(report);
      continue;
    }
    // The first matching entry names the owner; entries are written narrowly
    // (a module or function of TF or node), never a kind alone.
    const entry = suppressions.find((e) => matches(report, e));
    if (!entry) {
      result.unexplained.push(report);
      continue;
    }
    const list = result.suppressed.get(entry.category) ?? [];
    list.push(report);
    result.suppressed.set(entry.category, list);
  }
  return result;
}

/** The banner and the first frames, enough to find the report in its log. */
export function describe(report, frames = 12) {
  return [`[${report.file}] ${report.banner.trim()}`, ...report.frames.slice(0, frames).map((f) => `    ${f.line}`)].join('\n');
}
