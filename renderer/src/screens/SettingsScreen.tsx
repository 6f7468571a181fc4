import { useState, type FormEvent } from 'react';
import type { Settings, SystemInfo } from '../../../core/api';
import { useApiQuery, useTransport } from '../api';
import { ModelFoldersField } from '../components/ModelFoldersField';
import { QueryView } from '../components/states';
import { formatBytes } from '../format';
import { useMutation } from '../mutation';
import { useNotify } from '../notifications';

type ProviderChoice = Settings['executionProvider'];
// The contract's OUTPUT_FORMATS (the renderer imports only types from core/api).
const OUTPUT_FORMATS: readonly Settings['defaultOutputFormat'][] = ['png', 'jpeg', 'webp'];

const PROVIDER_LABEL: Record<ProviderChoice, string> = {
  auto: 'Automatic (fastest that starts)',
  cuda: 'CUDA (NVIDIA)',
  dml: 'DirectML (Windows)',
  webgpu: 'WebGPU',
  cpu: 'CPU',
};

export function SettingsScreen() {
  const info = useApiQuery('system.info', {}, []);
  const settings = useApiQuery('settings.get', {}, ['settings']);
  return (
    <>
      <header className="screen-header">
        <h1>Settings</h1>
        <p className="muted">Where your data lives, what hardware can run, and your preferences.</p>
      </header>
      <section aria-labelledby="system-heading">
        <h2 id="system-heading">This machine</h2>
        <QueryView query={info} what="system information">
          {(data) => <SystemDetails info={data} />}
        </QueryView>
      </section>
      <section aria-labelledby="providers-heading">
        <h2 id="providers-heading">Execution providers</h2>
        <p className="muted small">
          The engine runs every network on ONNX Runtime; each provider is one way to run it.
        </p>
        <QueryView query={info} what="execution providers">
          {(data) => <ProviderTable providers={data.executionProviders} />}
        </QueryView>
      </section>
      <section aria-labelledby="preferences-heading">
        <h2 id="preferences-heading">Preferences</h2>
        <QueryView query={settings} what="settings">
          {(data) => (
            <PreferencesForm
              key={JSON.stringify(data)}
              settings={data}
              providers={info.data?.executionProviders}
            />
          )}
        </QueryView>
      </section>
    </>
  );
}

function SystemDetails(props: { info: SystemInfo }) {
  const { info } = props;
  const rows: [string, string][] = [
    ['Data folder', info.dataDir],
    ['LoRA Studio', info.appVersion],
    ['Platform', `${info.platform} (${info.arch})`],
    [
      'Runtime',
      info.electronVersion
        ? `Electron ${info.electronVersion}, Node ${info.nodeVersion}`
        : `Node ${info.nodeVersion}`,
    ],
    ['CPU cores', String(info.cpuCount)],
    ['Memory', formatBytes(info.totalMemoryBytes)],
  ];
  return (
    <dl className="details" data-testid="system-info">
      {rows.map(([term, value]) => (
        <div key={term} className="details-row">
          <dt>{term}</dt>
          <dd className={term === 'Data folder' ? 'mono' : undefined}>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

function ProviderTable(props: { providers: SystemInfo['executionProviders'] }) {
  return (
    <table className="table" data-testid="providers-table">
      <thead>
        <tr>
          <th scope="col">Provider</th>
          <th scope="col">In this install</th>
          <th scope="col">What it needs</th>
        </tr>
      </thead>
      <tbody>
        {props.providers.map((provider) => (
          <tr key={provider.name}>
            <td className="strong mono">{provider.name}</td>
            <td>
              {provider.installed ? (
                <span className="badge badge-completed">
                  Installed{provider.bundled ? ' (bundled)' : ''}
                </span>
              ) : (
                <span className="badge badge-draft">Not installed</span>
              )}
            </td>
            <td>{provider.requirement}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

// Where the A1111 `parameters` text goes for each format (core/library/output-format.ts).
const FORMAT_NOTE: Record<Settings['defaultOutputFormat'], string> = {
  png: 'PNG keeps the generation parameters in its A1111 “parameters” text chunk.',
  jpeg: 'JPEG keeps the parameters in EXIF UserComment (as A1111 does), plus a .txt beside the image when the prompt has non-ASCII characters.',
  webp: 'WebP keeps the parameters in EXIF UserComment (as A1111 does), plus a .txt beside the image when the prompt has non-ASCII characters.',
};

/** The default checkpoint and VAE (set on the Models screen): used when a request names none. */
function DefaultModels(props: { settings: Settings }) {
  const models = useApiQuery('models.list', {}, ['models']);
  const name = (id: number | null) =>
    id === null ? 'none' : (models.data?.find((m) => m.id === id)?.name ?? `#${id}`);
  return (
    <p className="small" data-testid="settings-defaults">
      Default checkpoint: <span className="strong">{name(props.settings.defaultCheckpointId)}</span>{' '}
      · default VAE: <span className="strong">{name(props.settings.defaultVaeId)}</span>{' '}
      <span className="muted">(set them on the Models screen; used when a job names none)</span>
    </p>
  );
}

function PreferencesForm(props: {
  settings: Settings;
  providers: SystemInfo['executionProviders'] | undefined;
}) {
  const transport = useTransport();
  const notify = useNotify();
  const { busy, run } = useMutation();
  const [executionProvider, setExecutionProvider] = useState(props.settings.executionProvider);
  const [theme, setTheme] = useState(props.settings.theme);
  const [modelDirs, setModelDirs] = useState(props.settings.modelDirs);
  const [cpuThreads, setCpuThreads] = useState(props.settings.cpuThreads);
  const [keepModelWarm, setKeepModelWarm] = useState(props.settings.keepModelWarm);
  const [outputFormat, setOutputFormat] = useState(props.settings.defaultOutputFormat);
  // The core shows the token masked; an unchanged field sends nothing.
  const [token, setToken] = useState('');
  const [outputDir, setOutputDir] = useState(props.settings.outputDir ?? '');
  const [endpoint, setEndpoint] = useState(props.settings.huggingFaceEndpoint);

  const installed = new Set(props.providers?.filter((p) => p.installed).map((p) => p.name));
  const choices = Object.keys(PROVIDER_LABEL) as ProviderChoice[];

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const saved = await run('Could not save the settings', () =>
      transport.call('settings.set', {
        executionProvider,
        theme,
        modelDirs,
        cpuThreads,
        keepModelWarm,
        defaultOutputFormat: outputFormat,
        ...(token.trim() && { huggingFaceToken: token.trim() }),
        outputDir: outputDir.trim() || null,
        huggingFaceEndpoint: endpoint.trim(),
      }),
    );
    if (saved) notify.success('Settings saved');
  };

  return (
    <form className="panel form" onSubmit={submit} aria-label="Preferences">
      <div className="field-row">
        <div className="field">
          <label htmlFor="settings-provider">Execution provider</label>
          <select
            id="settings-provider"
            value={executionProvider}
            onChange={(e) => setExecutionProvider(e.target.value as ProviderChoice)}
          >
            {choices.map((choice) => (
              <option key={choice} value={choice}>
                {PROVIDER_LABEL[choice]}
                {choice !== 'auto' && props.providers && !installed.has(choice)
                  ? ' — not installed'
                  : ''}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="settings-theme">Theme</label>
          <select
            id="settings-theme"
            value={theme}
            onChange={(e) => setTheme(e.target.value as Settings['theme'])}
          >
            <option value="system">Follow the system</option>
            <option value="dark">Dark</option>
            <option value="light">Light</option>
          </select>
        </div>
      </div>
      {executionProvider !== 'auto' && (
        <p className="muted small" data-testid="provider-requirement">
          {props.providers?.find((p) => p.name === executionProvider)?.requirement}
        </p>
      )}
      <div className="field-row">
        <div className="field">
          <label htmlFor="settings-threads">CPU threads (0: automatic)</label>
          <input
            id="settings-threads"
            type="number"
            min={0}
            max={256}
            value={cpuThreads}
            onChange={(e) => setCpuThreads(Number(e.target.value))}
          />
        </div>
        <div className="field">
          <label htmlFor="settings-format">Default image format</label>
          <select
            id="settings-format"
            value={outputFormat}
            onChange={(e) => setOutputFormat(e.target.value as Settings['defaultOutputFormat'])}
          >
            {OUTPUT_FORMATS.map((f) => (
              <option key={f} value={f}>
                {f.toUpperCase()}
              </option>
            ))}
          </select>
        </div>
        <label className="inline-field">
          <input
            type="checkbox"
            checked={keepModelWarm}
            onChange={(e) => setKeepModelWarm(e.target.checked)}
          />
          Keep the model loaded between jobs
        </label>
      </div>
      <p className="muted small" data-testid="settings-format-note">
        {FORMAT_NOTE[outputFormat]} CPU threads apply to models loaded from now on;
        {keepModelWarm
          ? ' the model stays loaded after a job, so the next one starts at once.'
          : ' the model is unloaded after each job (less memory, slower next start).'}
      </p>
      <DefaultModels settings={props.settings} />
      <ModelFoldersField value={modelDirs} onChange={setModelDirs} />
      <div className="field">
        <label htmlFor="settings-output-dir">Output folder (empty: inside the data folder)</label>
        <input
          id="settings-output-dir"
          value={outputDir}
          onChange={(e) => setOutputDir(e.target.value)}
          spellCheck={false}
          className="mono"
        />
      </div>
      <div className="field">
        <label htmlFor="settings-endpoint">Hugging Face endpoint</label>
        <input
          id="settings-endpoint"
          type="url"
          value={endpoint}
          onChange={(e) => setEndpoint(e.target.value)}
          spellCheck={false}
          className="mono"
        />
      </div>
      <div className="field">
        <label htmlFor="settings-hf-token">
          Hugging Face token (for gated repos; stored on this machine)
        </label>
        <input
          id="settings-hf-token"
          type="password"
          value={token}
          onChange={(e) => setToken(e.target.value)}
          placeholder={props.settings.huggingFaceToken ?? 'hf_…'}
          autoComplete="off"
          spellCheck={false}
          className="mono"
        />
      </div>
      <div className="actions">
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Saving…' : 'Save settings'}
        </button>
      </div>
    </form>
  );
}
