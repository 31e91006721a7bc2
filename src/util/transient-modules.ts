/**
 * Code needed for a moment, then let go: modules that `fn` loads for the
 * first time are dropped from Node.js's module cache (and from their
 * parents' `children`) when it returns, so that once nothing else holds
 * their exports the garbage collector takes them, code and data. A module
 * loaded earlier is not touched; one that is needed again is loaded again.
 */

/** Runs `fn`, then unloads every module it loaded first. */
export function withTransientModules<T>(fn: () => T): T {
  const before = new Set(Object.keys(require.cache));
  try {
    return fn();
  } finally {
    const gone = new Set<NodeJS.Module>();
    for (const [id, mod] of Object.entries(require.cache)) {
      if (before.has(id) || mod === undefined) continue;
      gone.add(mod);
      delete require.cache[id];
    }
    if (gone.size > 0) {
      for (const mod of Object.values(require.cache)) {
        if (mod !== undefined && mod.children.some((c) => gone.has(c))) mod.children = mod.children.filter((c) => !gone.has(c));
      }
    }
  }
}
