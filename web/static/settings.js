// Settings kept in this browser (localStorage): the theme, the time zone, the name
// acknowledgements are signed with, the API token. A browser that refuses storage (private
// mode, storage disabled by policy) keeps them for this page only.

const memory = new Map();

/** A setting, or `fallback` when there is none. */
export function loadSetting(key, fallback) {
  try {
    return localStorage.getItem(key) ?? memory.get(key) ?? fallback;
  } catch {
    return memory.get(key) ?? fallback;
  }
}

/** Keep a setting ("" removes it). */
export function saveSetting(key, value) {
  if (value) memory.set(key, value);
  else memory.delete(key);
  try {
    if (value) localStorage.setItem(key, value);
    else localStorage.removeItem(key);
  } catch {
    // Storage refused: it lasts for this page only.
  }
}
