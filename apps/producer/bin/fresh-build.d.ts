/** The URL of dist/cli.js, or undefined when there is no bundle or a source changed after it was built. */
export function freshBuild(dist: URL): string | undefined;
