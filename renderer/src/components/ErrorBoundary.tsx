import { Component, type ErrorInfo, type ReactNode } from 'react';
import { ErrorPanel } from './states';

interface Props {
  /** Changing it (e.g. the route) clears a caught error. */
  resetKey: string;
  children: ReactNode;
}

interface State {
  error: unknown;
  resetKey: string;
}

/** A rendering bug shows as a message with a way back, never as a blank window. */
export class ErrorBoundary extends Component<Props, State> {
  override state: State = { error: null, resetKey: this.props.resetKey };

  static getDerivedStateFromError(error: unknown): Partial<State> {
    return { error };
  }

  static getDerivedStateFromProps(props: Props, state: State): Partial<State> | null {
    return props.resetKey === state.resetKey ? null : { error: null, resetKey: props.resetKey };
  }

  override componentDidCatch(error: unknown, info: ErrorInfo): void {
    console.error('screen crashed', error, info.componentStack);
  }

  override render() {
    if (this.state.error !== null) {
      return (
        <ErrorPanel
          title="This screen hit a bug and stopped"
          error={this.state.error}
          onRetry={() => this.setState({ error: null })}
        />
      );
    }
    return this.props.children;
  }
}
