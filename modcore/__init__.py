"""modcore: a reproducible companion to Boopathy et al. (ICLR 2025), "Breaking Neural
Network Scaling Laws with Modularity", and to the essay "Regularization Causes Modularity
Causes Generalization".

Modules (imports point downwards only):

    theory      closed forms and Monte-Carlo checks (numpy only)
    tasks       data generators (sine-wave modular regression, retina, digit pairs)
    models      torch modules: monolithic MLP, modular network
    train       models + tasks -> trained ensembles
    modularity  graph measures of trained weights and their shuffle nulls
    sweeps      grids of runs and the resumable on-disk results store
    plots       arrays in, Figure out
    runner      executes the notebooks with papermill (used by ``python -m modcore`` only)
"""

__version__ = "0.1.0"
