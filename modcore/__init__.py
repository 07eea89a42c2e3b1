"""modcore: a reproducible companion to Boopathy et al. (ICLR 2025), "Breaking Neural
Network Scaling Laws with Modularity", and to the essay "Regularization Causes Modularity
Causes Generalization".

Layers (a module imports only the layers listed before it, plus numpy/scipy/torch/pandas):

    paths         where files live (repository, data, results store)
    seeds         independent seeds derived from one user seed
    theory        closed forms and Monte-Carlo checks of Theorems 1 and 2 (numpy only)
    stats         generic statistics: bootstrap intervals, Holm, rank tests, slopes
    tasks         data: the sine-wave task, retina, digit pairs, CIFAR-10, compositional images
    models        torch modules as specs: monolithic MLP, modular network (stacked ensembles)
    runtime       where and how torch runs: resolve_device, thread limits, seeded generators
    train         models -> trained ensembles (TrainSettings, train_ensemble); train_reference: the
                  naive loop and the exact linearised fit it is checked against
    kernel_rule   the paper's Algorithm 1 (kernel objective, fitted projections, alignment)
    modularity    graph measures of trained weights and their null models
    store         the checked, resumable, lock-sharing on-disk results store
    sweeps        grids of runs into the store; the executor interface
    executors     where sweep tasks run (in process, Dask)
    plots         arrays in, Figure out
    estimate      what a run costs before it starts: timed probes, overhead, the H100 model;
                  workloads: each notebook's runs counted from its parameters
    claims        every claim of the paper and the essay, with the source's numbers
    scorecard     claim records written by chapters, read by the scorecard page
    parameters    typed chapter parameters: each one's type, default and rule in one place
    verdicts      the closed set of verdict words and how they combine
    runs          run configurations that several chapters share
    chapters      one module per notebook (may import every layer above; no layer imports it;
                  the choices page reads the other chapters' constants and defaults by name)
    runner        executes the notebooks with papermill, checked by each chapter's Parameters
                  (imported by ``python -m modcore`` and the tests only)
    provenance    the record that ends each executed notebook (used by the runner only)
"""

__version__ = "0.1.0"
