import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { createTransport } from './transport';
import './styles.css';

const container = document.getElementById('root');
if (!container) throw new Error('index.html lacks <div id="root">');

createRoot(container).render(
  <StrictMode>
    <App transport={createTransport()} />
  </StrictMode>,
);
