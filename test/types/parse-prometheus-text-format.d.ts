/** Types of the Prometheus text-format parser the metrics test reads `/metrics` with. */
declare module 'parse-prometheus-text-format' {
  /** One sample of a family: a value, or a histogram's buckets (a summary's quantiles), sum and count. */
  interface Sample {
    readonly labels?: Readonly<Record<string, string>>;
    readonly value?: string;
    readonly buckets?: Readonly<Record<string, string>>;
    readonly quantiles?: Readonly<Record<string, string>>;
    readonly count?: string;
    readonly sum?: string;
  }
  /** A metric family with its samples. */
  interface Family {
    readonly name: string;
    readonly help: string;
    readonly type: string;
    readonly metrics: readonly Sample[];
  }
  /** Parses the text exposition format into families. */
  export default function parse(text: string): Family[];
}
